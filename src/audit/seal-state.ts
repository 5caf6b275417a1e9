/**
 * The sealing state on the box (config `audit.seal.stateFile`): the key of the epoch the service
 * is in, and never an earlier one. Made by `setup-keys`, read by the service at start, and
 * replaced whole at every evolution: written to a temporary file, fdatasync'ed, renamed over the
 * old one, the folder fsync'ed, and then the old file's bytes overwritten with zeros through a
 * descriptor kept open across the rename. Killed at any point (kill -9), the path names either the
 * old state or the new one, whole (test/audit/seal-state.test.ts).
 */
import fs from 'node:fs';
import { dirname } from 'node:path';
import { syncDir } from './file.js';
import { fingerprint, KEY_BYTES, type VerificationKey } from './seal-key.js';

/** What the state file holds. */
export interface SealState {
  /** The verification key's fingerprint (every seal carries it). */
  fingerprint: string;
  startMs: number;
  intervalMs: number;
  /** The epoch whose key `key` is. */
  epoch: number;
  key: Buffer;
}

/** A state file that is not one setup-keys wrote. */
export class StateError extends Error {
  override name = 'StateError';
}

const tmpOf = (path: string) => `${path}.new`;

/** The state of epoch 0 for a new verification key. */
export function firstState(v: VerificationKey): SealState {
  return { fingerprint: fingerprint(v), startMs: v.startMs, intervalMs: v.intervalMs, epoch: 0, key: Buffer.from(v.key0) };
}

function encode(s: SealState): Buffer {
  const { fingerprint: fp, startMs, intervalMs, epoch } = s;
  return Buffer.from(JSON.stringify({ version: 1, fingerprint: fp, startMs, intervalMs, epoch, key: s.key.toString('hex') }) + '\n');
}

/**
 * The state at `path`, or null when there is none. A temporary file left by an evolution that was
 * killed before its rename holds the next key, never a past one: it is removed.
 */
export function loadState(path: string): SealState | null {
  fs.rmSync(tmpOf(path), { force: true });
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new StateError(`${path} is not a sealing state (not JSON): run setup-keys --force to make a new one`);
  }
  const { version, fingerprint: fp, startMs, intervalMs, epoch, key } = o;
  const ints = [startMs, intervalMs, epoch].every((n) => Number.isSafeInteger(n) && (n as number) >= 0);
  if (version !== 1 || typeof fp !== 'string' || !ints || typeof key !== 'string' || !new RegExp(`^[0-9a-f]{${KEY_BYTES * 2}}$`).test(key)) {
    throw new StateError(`${path} is not a sealing state this version reads: run setup-keys --force to make a new one`);
  }
  return { fingerprint: fp, startMs: startMs as number, intervalMs: intervalMs as number, epoch: epoch as number, key: Buffer.from(key, 'hex') };
}

/**
 * Replace the state at `path` by `s`, durably, and overwrite the old file's bytes. `owner` (uid,
 * gid): chown the new file, for setup-keys run as root for the service user.
 */
export function storeState(path: string, s: SealState, owner?: { uid: number; gid: number }): void {
  const tmp = tmpOf(path);
  const bytes = encode(s);
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW, 0o600);
  try {
    if (owner) fs.fchownSync(fd, owner.uid, owner.gid);
    for (let at = 0; at < bytes.length; ) at += fs.writeSync(fd, bytes, at, bytes.length - at);
    fs.fdatasyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  let old: number | null = null;
  try {
    old = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  try {
    fs.renameSync(tmp, path);
    syncDir(dirname(path));
    // The old inode is unlinked now; its blocks would still hold the past key. (On a
    // copy-on-write file system or an SSD the overwrite may land elsewhere: docs/security.md.)
    if (old !== null) {
      const size = fs.fstatSync(old).size;
      fs.writeSync(old, Buffer.alloc(size), 0, size, 0);
      fs.fdatasyncSync(old);
    }
  } finally {
    if (old !== null) fs.closeSync(old);
  }
  bytes.fill(0);
}
