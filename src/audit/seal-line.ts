/**
 * The seal line (docs/audit-line.md, "Seal lines"): one line of the trail, written through the
 * writer's queue like any other, chained like any other, whose MAC under its epoch's key covers
 * the chain head before it, and so every line before it:
 *
 *   {"time":"...","event":"seal","epoch":42,"final":true,"key":"<16 hex>","id":"<32 hex>","mac":"<64 hex>","prev":"<64 hex>"}
 *
 * `final` is true on the one seal that closes its epoch (made once the epoch has ended) and false
 * on a seal made mid-epoch at a reopen of the file. `prev` is added by the chain, and it is the head
 * the MAC covers. Shared by the writer (render) and `verify` (check), so both read one definition.
 */
import { createHash } from 'node:crypto';
import { mac } from './seal-key.js';

/** The `event` of a seal line: not an exit; query and the tables pass it over. */
export const SEAL_EVENT = 'seal';

/**
 * How long before its epoch a line covered by a seal may have been received: a callback's lines
 * are taken in after its body is read (limits.requestTimeoutMs, 15 s by default) and built, so a
 * line received just before an epoch's end can follow that epoch's seal. Anything older was sealed
 * with a key newer than its time (what CVE-2023-31439 let through in journald).
 */
export const LATE_MS = 60_000;

/** What a seal says, besides the chain head it covers. */
export interface Seal {
  /** ISO-8601 UTC ms: when the seal was made. */
  time: string;
  epoch: number;
  final: boolean;
  /** The verification key's fingerprint. */
  key: string;
}

/** The message the MAC covers: everything the seal says, and the head (its `prev`). */
function message(s: Seal, head: string): string {
  return JSON.stringify(['member-exit-audit seal v1', s.key, s.epoch, s.final, s.time, head]);
}

/** The seal's id: 128 bits of a hash of what it says, like an audit line's, for a store keyed by id. */
function sealId(s: Seal, head: string): string {
  return createHash('sha256').update(message(s, head)).digest('hex').slice(0, 32);
}

function text(s: Seal, id: string, m: string): string {
  return `{"time":"${s.time}","event":"${SEAL_EVENT}","epoch":${s.epoch},"final":${s.final},"key":"${s.key}","id":"${id}","mac":"${m}"`;
}

/** The seal line, newline-terminated and without `prev` (the chain adds it: `head`). */
export function renderSeal(s: Seal, head: string, key: Buffer): string {
  return `${text(s, sealId(s, head), mac(key, message(s, head)))}}\n`;
}

/** A seal line as read back: what it says, its MAC and its head. Null when the line is not one written by renderSeal. */
export function parseSeal(line: string): (Seal & { id: string; mac: string; prev: string }) | null {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return null;
  }
  const { time, epoch, final, key, id, mac: m, prev } = o;
  if (typeof time !== 'string' || !Number.isSafeInteger(epoch) || (epoch as number) < 0 || typeof final !== 'boolean') return null;
  if (typeof key !== 'string' || typeof id !== 'string' || typeof m !== 'string' || typeof prev !== 'string') return null;
  const s: Seal = { time, epoch: epoch as number, final, key };
  // Byte for byte as written: no key added, dropped, moved or re-spelt.
  if (line !== `${text(s, id, m)},"prev":"${prev}"}`) return null;
  return { ...s, id, mac: m, prev };
}

/** Whether a parsed seal's id and MAC are those its content, head and epoch's key make. */
export function sealMatches(s: Seal & { id: string; mac: string; prev: string }, key: Buffer): boolean {
  return sealId(s, s.prev) === s.id && mac(key, message(s, s.prev)) === s.mac;
}
