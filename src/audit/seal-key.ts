/**
 * Forward-secure sealing keys (issue #21), after Schneier and Kelsey's secure audit logs and
 * journald's Forward Secure Sealing: the sealing key of epoch k+1 is a one-way function of the key
 * of epoch k, and the box keeps only the current one. The verification key (kept off the box) is
 * the key of epoch 0 with the epochs' start and length: from it the verifier derives the key of
 * any epoch; from the key of epoch k nobody derives an earlier one.
 *
 * Every derivation is an HMAC-SHA-256 under a label of its own, so no value is used for two jobs.
 */
import { createHash, createHmac } from 'node:crypto';

/** Bytes of a sealing key: HMAC-SHA-256's block of security. */
export const KEY_BYTES = 32;

const EVOLVE = 'member-exit-audit seal evolve v1';
const MAC = 'member-exit-audit seal mac v1';

/** The key of the next epoch. The caller erases the old one (Buffer#fill) once it is no longer needed. */
export function evolve(key: Buffer): Buffer {
  return createHmac('sha256', key).update(EVOLVE).digest();
}

/** The key of `steps` epochs later; the intermediate keys are erased. */
export function evolveBy(key: Buffer, steps: number): Buffer {
  let k: Buffer = Buffer.from(key);
  for (let i = 0; i < steps; i++) {
    const next = evolve(k);
    k.fill(0);
    k = next;
  }
  return k;
}

/** The MAC of `message` under an epoch's key (the key itself is never used as a MAC key). */
export function mac(key: Buffer, message: string): string {
  const macKey = createHmac('sha256', key).update(MAC).digest();
  const out = createHmac('sha256', macKey).update(message).digest('hex');
  macKey.fill(0);
  return out;
}

/** What the verifier holds: the key of epoch 0, when epoch 0 began, and how long an epoch is. */
export interface VerificationKey {
  key0: Buffer;
  /** Unix ms at which epoch 0 began (a multiple of `intervalMs`). */
  startMs: number;
  intervalMs: number;
}

/**
 * The verification key as printed by setup-keys and given to `verify --verify-key`:
 * `KEY0/START-INTERVAL`, 64 hex digits, then the start and the epoch length in ms, in hex, the
 * shape of journalctl's `SEED/START-INTERVAL`.
 */
export function formatVerificationKey(v: VerificationKey): string {
  return `${v.key0.toString('hex')}/${v.startMs.toString(16)}-${v.intervalMs.toString(16)}`;
}

/** The verification key from its printed form; throws naming what is wrong. */
export function parseVerificationKey(text: string): VerificationKey {
  const m = /^([0-9a-f]{64})\/([0-9a-f]{1,13})-([0-9a-f]{1,13})$/.exec(text.trim());
  if (!m) throw new Error('a verification key is 64 hex digits, a slash, then two hex numbers joined by a dash (as setup-keys printed it)');
  const startMs = parseInt(m[2]!, 16);
  const intervalMs = parseInt(m[3]!, 16);
  if (intervalMs < MIN_INTERVAL_MS || startMs % intervalMs !== 0) throw new Error('the verification key\'s start and interval do not fit together: check it was copied whole');
  return { key0: Buffer.from(m[1]!, 'hex'), startMs, intervalMs };
}

/** Shortest epoch setup-keys accepts: tests use one second; production keeps journald's 15 minutes. */
export const MIN_INTERVAL_MS = 1000;

/**
 * 16 hex digits that name a verification key without revealing it (a hash of its printed form):
 * every seal carries it, so a verifier holding another key is told so instead of "forged".
 */
export function fingerprint(v: VerificationKey): string {
  return createHash('sha256').update(`member-exit-audit seal key v1 ${formatVerificationKey(v)}`).digest('hex').slice(0, 16);
}

/** The epoch that `ms` falls in (negative before epoch 0). */
export function epochAt(v: Pick<VerificationKey, 'startMs' | 'intervalMs'>, ms: number): number {
  return Math.floor((ms - v.startMs) / v.intervalMs);
}

/** When epoch `e` begins; it ends where `e + 1` begins. */
export function epochStart(v: Pick<VerificationKey, 'startMs' | 'intervalMs'>, e: number): number {
  return v.startMs + e * v.intervalMs;
}
