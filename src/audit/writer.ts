/**
 * The append-only writer with group commit.
 *
 * Callers hand in the complete lines of one callback and are answered when *their* lines are
 * written (durability `write`) or written and fdatasync'ed (`fsync`). While a write is in flight,
 * new callbacks queue and go out together in the next single write. Every completed write and
 * sync goes through `release`, which decides: write the rest, sync, answer, fail, reopen, or go on.
 *
 * A failed write is undone (ftruncate back to where the batch began) so no partial line stays.
 * Reopen (SIGHUP, or a rename/deletion seen by the rotation check) happens only between batches,
 * so a batch never straddles two files.
 *
 * A large callback (more than `sliceBytes` of lines: a 10,000-member exit, a dismissal) goes out
 * in slices of whole lines, one per write: each write carries the small callbacks queued, then
 * the next slice, and is synced. A small callback waits for one slice, not for 20 MB to reach
 * the disk (issue #12: behind whole 22 MB batches, legitimate callbacks waited 0.4-0.8 s).
 * It is answered once its last slice is synced. The
 * price is in the failure case: a slice that fails is cut back, and so is the whole callback if
 * nothing was written after its first slice; but lines of it that acknowledged callbacks now
 * follow stay (whole lines of an authentic callback, which a retry writes again under the same ids).
 */
import fs from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { AppError, type ErrorName } from '../errors.js';
import { chainHeadAtStart, chainLines, GENESIS } from './chain.js';
import { cutTornTail, syncDir } from './file.js';

/** Lines of one callback beyond this go out in slices of about this size (whole lines). */
const SLICE_BYTES = 1 << 20;

/** First and largest wait before retrying a failed open: fast to recover, gentle on a sick disk. */
const OPEN_RETRY_MIN_MS = 100;
const OPEN_RETRY_MAX_MS = 5000;

export type Durability = 'write' | 'fsync';

export interface WriterOptions {
  path: string;
  durability: Durability;
  /** Bytes that may wait; beyond, append() refuses at once (OVERLOADED). */
  maxQueueBytes: number;
  /** A caller waits at most this long for its lines; then DEADLINE. */
  deadlineMs: number;
  /** Interval of the rename/deletion check between batches. */
  rotateCheckMs: number;
  /**
   * Before each batch, one stat of the path: when it no longer names the open file (logrotate
   * renamed it), reopen first, so after a rename at most the batch already in flight lands in the
   * renamed file, and shippers need not chase lines into it. Default true.
   */
  checkEachBatch?: boolean;
  /** A callback with more bytes of lines than this is written in slices that others pass between. Default 1 MiB. */
  sliceBytes?: number;
  /** Tamper evidence: add `prev` (hash of the previous line) to every line. */
  chain?: boolean;
  log: Logger;
  /** Told about each completed batch, for metrics. */
  onBatch?: (b: { callbacks: number; bytes: number; writeMs: number; syncMs: number }) => void;
  /** Told about each failure, for metrics. */
  onError?: (code: string) => void;
}

interface Pending {
  data: string | Buffer;
  bytes: number;
  expires: number;
  settled: boolean;
  resolve: () => void;
  reject: (err: AppError) => void;
}

/** The large callback being written a slice at a time. */
interface Large {
  p: Pending;
  buf: Buffer;
  /** Bytes of it written (and synced) so far, and where the slice in flight ends. */
  done: number;
  end: number;
  /** File size before its first slice, and the chain head then: where a failure cuts back to. */
  startSize: number;
  chainStart: string;
  /** Whether a batch of other callbacks went to the file after one of its slices. */
  interleaved: boolean;
}

export class AuditWriter {
  private fd: number | null = null;
  private ino = 0;
  private dev = 0;
  private queue: Pending[] = [];
  private queuedBytes = 0;
  private batch: Pending[] = [];
  private batchBuf: Buffer = Buffer.alloc(0);
  private batchDone = 0;
  private batchStart = 0;
  /** The large callback in progress, and whether the write in flight carries a slice of it. */
  private large: Large | null = null;
  private sliced = false;
  private writeMs = 0;
  private busy = false;
  private scheduled = false;
  private reopenWanted = false;
  private closing = false;
  /** The last batch failed; cleared by the next one that succeeds. */
  private failing = false;
  /** The last open failed; cleared by the next one that succeeds. */
  private openFailing = false;
  private openRetryMs = OPEN_RETRY_MIN_MS;
  private openRetry: NodeJS.Timeout | null = null;
  private drained: (() => void) | null = null;
  private readonly timers: NodeJS.Timeout[] = [];
  /** With `chain`: the hash of the last line written, and its value before the batch in flight. */
  private chainHead = GENESIS;
  private chainBefore = GENESIS;
  /** How many times the file was (re)opened, for metrics. */
  reopens = 0;

  constructor(private readonly opts: WriterOptions) {}

  /** Open the file (cutting a torn tail), find the chain's head, start the rotation and deadline checks. */
  async start(): Promise<void> {
    // A symlink or something other than a regular file at the path is a mistake or an attack: say
    // so and do not start (the torn-tail cut would truncate whatever the link points at).
    const err = this.openNow();
    if (err?.code === 'ELOOP' || err?.code === 'ENOTREG') {
      await this.close();
      throw Object.assign(new Error(`audit.file ${this.opts.path}: ${err.message}`), { code: err.code });
    }
    if (err) this.retryOpen(err);
    // After openNow: a torn tail is cut first, so the head is the last acknowledged line.
    if (this.opts.chain) this.chainHead = await chainHeadAtStart(this.opts.path);
    const rotate = setInterval(() => this.checkRotation(), this.opts.rotateCheckMs);
    const sweep = setInterval(() => this.sweep(), Math.max(10, Math.min(100, this.opts.deadlineMs / 10)));
    rotate.unref();
    sweep.unref();
    this.timers.push(rotate, sweep);
  }

  /** True when the file is open, the last write succeeded and the queue has room. */
  get ready(): boolean {
    return this.fd !== null && !this.failing && !this.closing && this.queuedBytes < this.opts.maxQueueBytes / 2;
  }

  /** The most one callback may hand in: more could never be queued, so it is a 4xx, not a 503. */
  get maxBytes(): number {
    return this.opts.maxQueueBytes;
  }

  /** Bytes waiting for the disk (not counting the batch in flight). */
  get queueBytes(): number {
    return this.queuedBytes;
  }

  /**
   * Append the lines of one callback; resolves once they are written (and synced). The deadline
   * runs from `since` (when the request arrived), so time spent before the writer counts too.
   */
  append(data: string | Buffer, since = Date.now()): Promise<void> {
    if (this.closing) return Promise.reject(new AppError('SHUTTING_DOWN'));
    if (this.fd === null) return Promise.reject(this.fail('NOT_READY'));
    const bytes = Buffer.byteLength(data);
    if (this.queuedBytes + bytes > this.opts.maxQueueBytes) return Promise.reject(this.fail('OVERLOADED'));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ data, bytes, expires: since + this.opts.deadlineMs, settled: false, resolve, reject });
      this.queuedBytes += bytes;
      this.schedule();
    });
  }

  /** Reopen the path between batches (SIGHUP after logrotate). */
  reopen(): void {
    this.reopenWanted = true;
    this.schedule();
  }

  /** Write what is queued, sync, close the file. New appends are refused from now on. */
  async close(): Promise<void> {
    this.closing = true;
    for (const t of this.timers) clearInterval(t);
    if (this.openRetry) clearTimeout(this.openRetry);
    if (this.busy || this.queue.length || this.large) {
      await new Promise<void>((resolve) => {
        this.drained = resolve;
        this.schedule();
      });
    }
    if (this.fd !== null) {
      const fd = this.fd;
      this.fd = null;
      try {
        fs.fdatasyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    }
  }

  private fail(code: ErrorName): AppError {
    this.opts.onError?.(code);
    return new AppError(code);
  }

  private schedule(): void {
    if (this.scheduled || this.busy) return;
    this.scheduled = true;
    // setImmediate, not a microtask: callbacks parsed in the same event-loop turn share one write.
    setImmediate(() => {
      this.scheduled = false;
      this.next();
    });
  }

  /**
   * Between writes: reopen if asked (or if the path was renamed), then write every small callback
   * queued as one buffer, or the next slice of a large one: the two take turns.
   */
  private next(): void {
    if (this.busy) return;
    // A rename is followed at once, even between the slices of a large callback (a shipper may let
    // go of a renamed file): the rest of it goes to the new file, and a failure no longer cuts it back.
    const opens = this.reopens;
    this.reopenBetweenBatches();
    if (this.large && this.reopens !== opens) this.large.interleaved = true;
    // One pass: the small callbacks all go now; the large ones wait in the queue, in order.
    const sliceBytes = this.opts.sliceBytes ?? SLICE_BYTES;
    const small: Pending[] = [];
    const waiting: Pending[] = [];
    let waitingBytes = 0;
    for (const p of this.queue) {
      if (p.settled) continue;
      if (p.bytes <= sliceBytes && this.fd !== null) {
        small.push(p);
      } else {
        waiting.push(p);
        waitingBytes += p.bytes;
      }
    }
    if (this.fd === null) {
      this.queue = [];
      this.queuedBytes = 0;
      // The reopen between two slices failed: the large callback cannot go on either.
      if (this.large) this.abandonLarge('NOT_READY');
      for (const p of waiting) this.settle(p, this.fail('NOT_READY'));
      if (this.drained) this.drained();
      return;
    }
    // Large callbacks start one at a time, in the order they came.
    const first = this.large === null ? waiting.shift() : undefined;
    if (first) {
      waitingBytes -= first.bytes;
      const buf = Buffer.isBuffer(first.data) ? first.data : Buffer.from(first.data);
      this.large = { p: first, buf, done: 0, end: 0, startSize: 0, chainStart: GENESIS, interleaved: false };
    }
    this.queue = waiting;
    this.queuedBytes = waitingBytes;
    if (small.length === 0 && this.large === null) {
      if (this.drained) this.drained();
      return;
    }
    // After a slice, the small callbacks that queued behind it go alone (a quick write); then the
    // next slice, with whatever queued meanwhile riding along.
    this.startWrite(small, this.sliced && small.length ? null : this.large);
  }

  /**
   * One write, then one sync: the small callbacks queued, then the next slice (whole lines, about
   * sliceBytes) of the large callback in progress, whose caller is answered with its last slice.
   */
  private startWrite(small: Pending[], large: Large | null): void {
    this.busy = true;
    this.sliced = large !== null;
    this.chainBefore = this.chainHead;
    const head = this.smallBytes(small);
    let part: Buffer | null = null;
    if (large) {
      const { buf, done } = large;
      let end = Math.min(buf.length, done + (this.opts.sliceBytes ?? SLICE_BYTES));
      if (end < buf.length) {
        const nl = buf.lastIndexOf(0x0a, end - 1);
        // A line longer than a slice (the service makes none) goes whole.
        end = nl >= done ? nl + 1 : buf.indexOf(0x0a, end) + 1 || buf.length;
      }
      large.end = end;
      if (done === 0) {
        // Where the callback's lines begin (after the small ones, before its first slice): what a
        // failure before anything else follows them cuts the file and the chain back to.
        large.startSize = fs.fstatSync(this.fd!).size + head.length;
        large.chainStart = this.chainHead;
      }
      part = buf.subarray(done, end);
      if (this.opts.chain) part = this.chained(part.toString());
    }
    this.batch = large && large.end === large.buf.length ? [...small, large.p] : small;
    this.batchBuf = part === null ? head : head.length === 0 ? part : Buffer.concat([head, part]);
    this.batchDone = 0;
    this.batchStart = performance.now();
    fs.write(this.fd!, this.batchBuf, 0, this.batchBuf.length, null, (err, n) => this.release(err, n));
  }

  /** The small callbacks' lines as one buffer (chained when `chain` is on). */
  private smallBytes(small: Pending[]): Buffer {
    if (small.length === 0) return Buffer.alloc(0);
    if (this.opts.chain) return this.chained(small.map((p) => p.data.toString()).join(''));
    // A Buffer (a list built in slices) is written as it is, without another copy.
    const only = small.length === 1 ? small[0]!.data : null;
    if (Buffer.isBuffer(only)) return only;
    if (small.every((p) => typeof p.data === 'string')) return Buffer.from(small.map((p) => p.data).join(''));
    return Buffer.concat(small.map((p) => (typeof p.data === 'string' ? Buffer.from(p.data) : p.data)));
  }

  /** `text` with `prev` on each line, continuing the chain. */
  private chained(text: string): Buffer {
    let out: string;
    ({ text: out, head: this.chainHead } = chainLines(text, this.chainHead));
    return Buffer.from(out);
  }

  /** Reopen if asked, or if the path was renamed (one stat before a batch). */
  private reopenBetweenBatches(): void {
    if (!this.reopenWanted && !this.closing && this.fd !== null && this.opts.checkEachBatch !== false && (this.queue.length || this.large) && this.pathMoved()) {
      this.opts.log.info({ stage: 'sending', file: this.opts.path, reason: 'renamed' }, 'audit file moved; reopening');
      this.reopenWanted = true;
    }
    if (this.reopenWanted && !this.closing) {
      this.reopenWanted = false;
      const err = this.openNow();
      if (err) this.retryOpen(err);
    }
  }

  /** The one place every write and sync completion lands. */
  private release(err: NodeJS.ErrnoException | null, n: number): void {
    const fd = this.fd!;
    if (err) return this.undoBatch(err, 'write');
    this.batchDone += n;
    if (this.batchDone < this.batchBuf.length) {
      // Short write (a signal, or the disk filling): write the rest; O_APPEND keeps it contiguous.
      fs.write(fd, this.batchBuf, this.batchDone, this.batchBuf.length - this.batchDone, null, (e, m) => this.release(e, m));
      return;
    }
    this.writeMs = performance.now() - this.batchStart;
    if (this.opts.durability === 'fsync') {
      const syncStart = performance.now();
      fs.fdatasync(fd, (e) => (e ? this.undoBatch(e, 'fsync') : this.finishBatch(performance.now() - syncStart)));
    } else {
      this.finishBatch(0);
    }
  }

  private finishBatch(syncMs: number): void {
    if (this.failing) {
      this.failing = false;
      this.opts.log.info({ stage: 'sending', file: this.opts.path }, 'audit writes recovered');
    }
    const large = this.large;
    if (large && !this.sliced) {
      large.interleaved = true;
    } else if (large) {
      // Other callbacks' lines now follow a slice of it (they come before the slice in a write).
      if (large.done > 0 && this.batch.some((p) => p !== large.p)) large.interleaved = true;
      large.done = large.end;
      if (large.done === large.buf.length) this.large = null;
    }
    const batch = this.batch;
    this.opts.onBatch?.({ callbacks: batch.length, bytes: this.batchBuf.length, writeMs: this.writeMs, syncMs });
    this.endBatch();
    for (const p of batch) this.settle(p);
  }

  /**
   * A write or sync failed: cut the file back to where this batch began, so that no partial (or
   * unacknowledged) line stays, and fail every caller of the batch. The next batch tries again,
   * so a disk that gets space back recovers without a restart.
   */
  private undoBatch(err: NodeJS.ErrnoException, op: 'write' | 'fsync'): void {
    const batch = this.batch;
    const fd = this.fd!;
    let undone = true;
    // With a slice of a large callback: cut back the whole callback when nothing came after its
    // earlier slices; else only this write.
    const large = this.sliced ? this.large : null;
    const whole = large !== null && large.done > 0 && !large.interleaved;
    if (this.batchDone > 0 || whole) {
      try {
        fs.ftruncateSync(fd, whole ? large.startSize : fs.fstatSync(fd).size - this.batchDone);
      } catch {
        undone = false;
      }
    }
    // The undone lines are not in the chain either.
    this.chainHead = whole ? large.chainStart : this.chainBefore;
    if (large) this.abandonLarge('WRITE_FAILED', whole);
    if (!this.failing) {
      this.failing = true;
      this.opts.log.error(
        { stage: 'sending', err: { code: err.code, message: err.message }, op, file: this.opts.path, undone },
        'audit write failed',
      );
    }
    this.endBatch();
    for (const p of batch) if (p !== large?.p) this.settle(p, this.fail('WRITE_FAILED'));
    // A deleted file or directory is fixed by a fresh open; the same file on a full disk is not.
    this.checkRotation();
  }

  /**
   * Fail the large callback in progress. Unless it was cut back whole, the slices already written
   * stay (whole lines, under the ids a retry would carry): say how many lines, once.
   */
  private abandonLarge(code: ErrorName, cutBack = false): void {
    const large = this.large!;
    this.large = null;
    // One answered DEADLINE already is not counted again.
    if (!large.p.settled) this.settle(large.p, this.fail(code));
    if (cutBack || large.done === 0) return;
    let lines = 0;
    for (let at = large.buf.indexOf(0x0a); at !== -1 && at < large.done; at = large.buf.indexOf(0x0a, at + 1)) lines++;
    this.opts.log.warn({ stage: 'sending', file: this.opts.path, lines, code }, `lines of a callback answered ${code} stay in the audit file (whole lines; other callbacks followed them)`);
  }

  private endBatch(): void {
    this.busy = false;
    this.batch = [];
    this.batchBuf = Buffer.alloc(0);
    // What queued during this batch is the next batch: start it now rather than an event-loop
    // turn later, as the baseline does; callers waiting on the disk should not also wait on the loop.
    if (this.queue.length || this.reopenWanted || this.large) this.next();
    else if (this.drained) this.drained();
  }

  private settle(p: Pending, err?: AppError): void {
    if (p.settled) return;
    p.settled = true;
    if (err) p.reject(err);
    else p.resolve();
  }

  /** Answer DEADLINE to callers that have waited too long; queued ones are then never written. */
  private sweep(): void {
    const now = Date.now();
    for (const p of this.batch) if (!p.settled && p.expires <= now) this.settle(p, this.fail('DEADLINE'));
    // A large callback under way is written whole all the same, like a batch in flight.
    const large = this.large?.p;
    if (large && !large.settled && large.expires <= now) this.settle(large, this.fail('DEADLINE'));
    for (const p of this.queue) {
      if (p.expires > now) break;
      if (!p.settled) {
        this.queuedBytes -= p.bytes;
        this.settle(p, this.fail('DEADLINE'));
      }
    }
  }

  /** Whether the path names another file than the one open (or none): one stat, a few microseconds. */
  private pathMoved(): boolean {
    try {
      const st = fs.statSync(this.opts.path);
      return st.ino !== this.ino || st.dev !== this.dev;
    } catch {
      return true;
    }
  }

  /** Notice a rename or deletion by an outside rotator (no SIGHUP needed). */
  private checkRotation(): void {
    if (this.fd === null || this.reopenWanted) return;
    fs.stat(this.opts.path, (err, st) => {
      if (err || st.ino !== this.ino || st.dev !== this.dev) {
        this.opts.log.info({ stage: 'sending', file: this.opts.path, reason: err ? err.code : 'renamed' }, 'audit file moved; reopening');
        this.reopen();
      }
    });
  }

  /**
   * Open (or reopen) the path: make the directory, open O_APPEND with mode 0640 and O_NOFOLLOW (a
   * symlink in the last component is refused, ELOOP), insist on a regular file (a FIFO or device is
   * refused before a byte goes to it), cut a torn tail, sync the directory so a new file's entry
   * survives a crash. Runs only between batches. On failure the old file (if any) is kept closed
   * and the caller has the open retried with backoff. Returns what went wrong, or null.
   */
  private openNow(): NodeJS.ErrnoException | null {
    let fd: number;
    try {
      fs.mkdirSync(dirname(this.opts.path), { recursive: true, mode: 0o750 });
      fd = fs.openSync(this.opts.path, fs.constants.O_RDWR | fs.constants.O_APPEND | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o640);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ELOOP') e.message = 'is a symbolic link; name the file itself (opened with O_NOFOLLOW)';
      this.closeFd();
      return e;
    }
    if (!fs.fstatSync(fd).isFile()) {
      fs.closeSync(fd);
      this.closeFd();
      return Object.assign(new Error('is not a regular file (a FIFO, socket or device)'), { code: 'ENOTREG' });
    }
    try {
      const cut = cutTornTail(fd);
      if (cut) this.opts.log.warn({ stage: 'sending', file: this.opts.path, bytes: cut }, 'cut torn tail of audit file');
      if (this.opts.durability === 'fsync') syncDir(dirname(this.opts.path));
    } catch (err) {
      fs.closeSync(fd);
      this.closeFd();
      return err as NodeJS.ErrnoException;
    }
    this.closeFd();
    const st = fs.fstatSync(fd);
    this.fd = fd;
    this.ino = st.ino;
    this.dev = st.dev;
    this.reopens++;
    this.openRetryMs = OPEN_RETRY_MIN_MS;
    this.openFailing = false;
    this.opts.log.info({ stage: 'sending', file: this.opts.path, size: st.size }, 'audit file open');
    return null;
  }

  private closeFd(): void {
    if (this.fd === null) return;
    try {
      fs.closeSync(this.fd);
    } catch {
      // Already unusable; nothing of ours is lost by not closing it cleanly.
    }
    this.fd = null;
  }

  private retryOpen(err: NodeJS.ErrnoException): void {
    if (!this.openFailing) {
      this.openFailing = true;
      this.opts.log.error({ stage: 'sending', err: { code: err.code, message: err.message }, file: this.opts.path }, 'cannot open audit file; retrying');
    }
    this.opts.onError?.('OPEN_FAILED');
    if (this.closing || this.openRetry) return;
    this.openRetry = setTimeout(() => {
      this.openRetry = null;
      this.reopen();
    }, this.openRetryMs);
    this.openRetry.unref();
    this.openRetryMs = Math.min(this.openRetryMs * 2, OPEN_RETRY_MAX_MS);
  }
}
