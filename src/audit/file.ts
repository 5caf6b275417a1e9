/**
 * The audit file itself: open it safely, append to it, sync it, cut a failed append back, notice
 * when an outside rotator renamed or deleted it. No queue and no callers here: the writer
 * (writer.ts) decides what goes in each append and what happens after it.
 */
import fs from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';

/** Most bytes read backwards per step when looking for the last newline of a torn file. */
const TAIL_CHUNK = 64 * 1024;

export type Durability = 'write' | 'fsync';

/**
 * A file that does not end in `\n` ends in a line that was never acknowledged (a crash mid-write):
 * cut it back to the last newline. Returns the number of bytes cut (0 when the file was whole).
 */
export function cutTornTail(fd: number): number {
  const size = fs.fstatSync(fd).size;
  if (size === 0) return 0;
  const buf = Buffer.alloc(Math.min(TAIL_CHUNK, size));
  let end = size;
  while (end > 0) {
    const len = Math.min(buf.length, end);
    fs.readSync(fd, buf, 0, len, end - len);
    const nl = buf.lastIndexOf(0x0a, len - 1);
    if (nl === len - 1 && end === size) return 0;
    if (nl >= 0) {
      end = end - len + nl + 1;
      break;
    }
    end -= len;
  }
  fs.ftruncateSync(fd, end);
  return size - end;
}

/** fsync a directory, so that a file just created in it survives a crash. */
export function syncDir(dir: string): void {
  const dfd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(dfd);
  } finally {
    fs.closeSync(dfd);
  }
}

/** The one open audit file, or none. Every method is safe to call with none open. */
export class AuditFile {
  private fd: number | null = null;
  private ino = 0;
  private dev = 0;
  /** How many times the file was (re)opened, for metrics. */
  opens = 0;

  constructor(
    readonly path: string,
    private readonly durability: Durability,
    private readonly log: Logger,
  ) {}

  get isOpen(): boolean {
    return this.fd !== null;
  }

  /**
   * Open (or reopen) the path: make the directory, open O_APPEND with mode 0640 and O_NOFOLLOW (a
   * symlink in the last component is refused, ELOOP), insist on a regular file (a FIFO or device is
   * refused before a byte goes to it), cut a torn tail, sync the directory so a new file's entry
   * survives a crash. The file previously open is closed first, whatever happens. Returns what
   * went wrong, or null.
   */
  open(): NodeJS.ErrnoException | null {
    this.closeQuietly();
    let fd: number;
    try {
      fs.mkdirSync(dirname(this.path), { recursive: true, mode: 0o750 });
      fd = fs.openSync(this.path, fs.constants.O_RDWR | fs.constants.O_APPEND | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o640);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ELOOP') e.message = 'is a symbolic link; name the file itself (opened with O_NOFOLLOW)';
      return e;
    }
    try {
      if (!fs.fstatSync(fd).isFile()) throw Object.assign(new Error('is not a regular file (a FIFO, socket or device)'), { code: 'ENOTREG' });
      const cut = cutTornTail(fd);
      if (cut) this.log.warn({ stage: 'sending', file: this.path, bytes: cut }, 'cut torn tail of audit file');
      if (this.durability === 'fsync') syncDir(dirname(this.path));
    } catch (err) {
      fs.closeSync(fd);
      return err as NodeJS.ErrnoException;
    }
    const st = fs.fstatSync(fd);
    this.fd = fd;
    this.ino = st.ino;
    this.dev = st.dev;
    this.opens++;
    this.log.info({ stage: 'sending', file: this.path, size: st.size }, 'audit file open');
    return null;
  }

  /** Whether the path names another file than the one open (or none): one stat, a few microseconds. */
  moved(): boolean {
    try {
      const st = fs.statSync(this.path);
      return st.ino !== this.ino || st.dev !== this.dev;
    } catch {
      return true;
    }
  }

  /** The same check without blocking, for the idle timer: calls back with the reason, or null. */
  checkMoved(cb: (reason: string | null) => void): void {
    if (this.fd === null) return cb(null);
    fs.stat(this.path, (err, st) => cb(err ? (err.code ?? 'gone') : st.ino !== this.ino || st.dev !== this.dev ? 'renamed' : null));
  }

  /**
   * Append all of `buf`, then (durability fsync) fdatasync. Short writes (a signal, the disk
   * filling) are continued; O_APPEND keeps them contiguous. `done` gets the error, if any, and
   * how many bytes reached the file before it, and the time spent writing and syncing. `sync`:
   * fdatasync whatever the durability (a seal).
   */
  append(buf: Buffer, done: (err: NodeJS.ErrnoException | null, written: number, op: 'write' | 'fsync', writeMs: number, syncMs: number) => void, sync = false): void {
    const fd = this.fd!;
    const start = performance.now();
    let written = 0;
    const wrote = (err: NodeJS.ErrnoException | null, n: number): void => {
      if (err) return done(err, written, 'write', performance.now() - start, 0);
      written += n;
      if (written < buf.length) return fs.write(fd, buf, written, buf.length - written, null, wrote);
      const writeMs = performance.now() - start;
      if (this.durability !== 'fsync' && !sync) return done(null, written, 'write', writeMs, 0);
      const syncStart = performance.now();
      fs.fdatasync(fd, (e) => done(e, written, 'fsync', writeMs, performance.now() - syncStart));
    };
    fs.write(fd, buf, 0, buf.length, null, wrote);
  }

  /** Remove the last `bytes` bytes (a failed append). False when that could not be done. */
  cutBack(bytes: number): boolean {
    if (bytes === 0 || this.fd === null) return true;
    try {
      fs.ftruncateSync(this.fd, fs.fstatSync(this.fd).size - bytes);
      return true;
    } catch {
      return false;
    }
  }

  /** Sync and close (the clean end). */
  close(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    try {
      fs.fdatasyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Close without syncing (before a reopen, or when the file is already unusable). */
  closeQuietly(): void {
    if (this.fd === null) return;
    try {
      fs.closeSync(this.fd);
    } catch {
      // Already unusable; nothing of ours is lost by not closing it cleanly.
    }
    this.fd = null;
  }
}
