/**
 * The append-only writer with group commit.
 *
 * Callers hand in the complete lines of one callback and are answered when *their* lines are
 * written (durability `write`) or written and fdatasync'ed (`fsync`). While a write is in flight,
 * new callbacks queue and go out together in the next single write. Every completed write and
 * sync goes through `release`, which decides: answer and write more, or cut back and retry.
 *
 * A failed write is cut back (ftruncate to where it began, so no partial line stays) and tried
 * again with backoff, as often as it takes: nothing taken in is thrown away (issue #19). Callers
 * still waiting at their deadline are answered with the fault (queue.ts) and their lines written
 * later. Reopen (SIGHUP, or a rename/deletion seen before a write or by the idle check) happens
 * only between writes, so a write never straddles two files.
 *
 * A large callback (more than `sliceBytes` of lines: a 10,000-member exit, a dismissal) goes out
 * in slices of whole lines, one per write: a small callback waits for one slice, not for 20 MB to
 * reach the disk (issue #12: behind whole 22 MB batches, legitimate callbacks waited 0.4-0.8 s).
 * It is answered once its last slice is on disk. A slice that fails is retried like any write;
 * the slices before it stay (whole lines, under the ids its resend would carry).
 */
import type { Logger } from 'pino';
import { AppError } from '../errors.js';
import { ChainHead, chainHeadAtStart } from './chain.js';
import { AuditFile, type Durability } from './file.js';
import { countLines, WriteQueue, type Entry } from './queue.js';
import { idsAtTail } from './recent-ids.js';
import { lastTrailLine } from './last-line.js';
import type { PendingSeal, Sealer } from './sealer.js';
import { trailFiles } from './siblings.js';

export type { Durability } from './file.js';

/** Lines of one callback beyond this go out in slices of about this size (whole lines). */
const SLICE_BYTES = 1 << 20;

/** First and largest wait before retrying a failed write or open: quick to recover once the disk has room, gentle on a sick one. */
const RETRY_MIN_MS = 25;
const RETRY_MAX_MS = 250;

export interface WriterOptions {
  path: string;
  durability: Durability;
  /** Bytes that may wait for the disk; beyond, callers wait for room (room()) before their body is read. */
  maxQueueBytes: number;
  /** A caller waits at most this long for its lines; then it is answered with the fault, and its lines stay queued. */
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
  /**
   * Forward-secure sealing (needs `chain`): a seal line at each epoch's end and at each reopen,
   * placed in the queue before any line taken in after the epoch ended (sealer.ts).
   */
  sealer?: Sealer | null;
  /** Ids taken in within this many ms are not written again (a resend). 0 or absent: off. */
  dedupWindowMs?: number;
  /** At most this many ids remembered for that. */
  dedupMaxIds?: number;
  log: Logger;
  /** Told about each completed batch, for metrics. */
  onBatch?: (b: { callbacks: number; bytes: number; writeMs: number; syncMs: number }) => void;
  /** Told about each caller answered with a fault, and each failed open (OPEN_FAILED), for metrics. */
  onError?: (code: string) => void;
  /** Told about each failed write that will be retried. */
  onRetry?: () => void;
  /** Told about lines skipped as already taken in, and lines written after their caller was answered. */
  onLines?: (kind: 'duplicate' | 'late', n: number) => void;
}

/** The large callback being written a slice at a time. */
interface Large {
  e: Entry;
  buf: Buffer;
  /** Bytes of it on disk so far, and where the slice in flight ends. */
  done: number;
  end: number;
}

/** What could not be written before the process had to exit. */
export interface Unwritten {
  lines: number;
  callbacks: number;
}

/** The lines of `small` as one buffer. A Buffer (a list built in slices) goes as it is, without another copy. */
function rawBytes(small: Entry[]): Buffer {
  const only = small.length === 1 ? small[0]!.data : null;
  if (Buffer.isBuffer(only)) return only;
  if (small.every((e) => typeof e.data === 'string')) return Buffer.from(small.map((e) => e.data).join(''));
  return Buffer.concat(small.map((e) => (typeof e.data === 'string' ? Buffer.from(e.data) : e.data)));
}

export class AuditWriter {
  private readonly file: AuditFile;
  private readonly queue: WriteQueue;
  private chain: ChainHead | null = null;
  /** The write in flight: the small entries it carries, and whether it carries a slice of `large`. */
  private small: Entry[] = [];
  private sliced = false;
  private large: Large | null = null;
  private busy = false;
  private scheduled = false;
  private reopenWanted = false;
  private closing = false;
  private finished = false;
  /** What went wrong last; cleared by the next write (or open) that succeeds. */
  private fault: 'WRITE_FAILED' | 'NOT_READY' | null = null;
  private faultSince = 0;
  private retryMs = RETRY_MIN_MS;
  private retry: NodeJS.Timeout | null = null;
  private drained: (() => void) | null = null;
  /** The key's evolution after a seal failed (the state file could not be written): nothing more is written until it succeeds. */
  private unevolved: PendingSeal[] | null = null;
  private readonly timers: NodeJS.Timeout[] = [];
  private sealTimer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: WriterOptions) {
    this.file = new AuditFile(opts.path, opts.durability, opts.log);
    this.queue = new WriteQueue({
      maxBytes: opts.maxQueueBytes,
      deadlineMs: opts.deadlineMs,
      dedupWindowMs: opts.dedupWindowMs ?? 0,
      dedupMaxIds: opts.dedupMaxIds ?? 0,
      onAnswered: (code) => opts.onError?.(code),
      onLines: opts.onLines,
    });
  }

  /** Open the file (cutting a torn tail), find the chain's head and the recent ids, start the rotation and deadline checks. */
  async start(): Promise<void> {
    // A symlink or something other than a regular file at the path is a mistake or an attack: say
    // so and do not start (the torn-tail cut would truncate whatever the link points at).
    const err = this.file.open();
    if (err?.code === 'ELOOP' || err?.code === 'ENOTREG') {
      await this.close();
      throw Object.assign(new Error(`audit.file ${this.opts.path}: ${err.message}`), { code: err.code });
    }
    if (err) this.openFailed(err);
    try {
      // After the open: a torn tail is cut first, so the head is the last acknowledged line.
      if (this.opts.chain) this.chain = new ChainHead(await chainHeadAtStart(this.opts.path));
    } catch (e) {
      await this.close(0);
      throw e;
    }
    if (this.opts.dedupWindowMs) this.rememberTail();
    if (this.opts.sealer) {
      // After the torn-tail cut, like the chain's head; then the epochs missed while down.
      this.opts.sealer.resume(await lastTrailLine(this.opts.path));
      this.sealDue();
    }
    const rotate = setInterval(() => this.checkRotation(), this.opts.rotateCheckMs);
    const sweep = setInterval(() => this.sweep(), Math.max(10, Math.min(100, this.opts.deadlineMs / 10)));
    rotate.unref();
    sweep.unref();
    this.timers.push(rotate, sweep);
  }

  /** The ids at the end of the trail (the current file, then the newest rotated one if that is short). */
  private rememberTail(): void {
    const max = this.opts.dedupMaxIds ?? 0;
    const ids: string[] = [];
    try {
      for (const f of trailFiles(this.opts.path).reverse().slice(0, 2)) {
        ids.unshift(...idsAtTail(f, this.opts.dedupWindowMs!, max - ids.length));
        if (ids.length >= max) break;
      }
    } catch (err) {
      // Only resends after a restart are at stake, and the store's id key removes those too.
      const e = err as NodeJS.ErrnoException;
      this.opts.log.warn({ stage: 'starting', file: this.opts.path, err: { code: e.code, message: e.message } }, 'cannot read the ids at the end of the trail: a resend of a callback written before this start may be written twice');
    }
    this.queue.remember(ids);
  }

  /** True when the file is open, the last write succeeded and the queue is under half its bound. */
  get ready(): boolean {
    return this.file.isOpen && this.fault === null && !this.closing && this.queue.heldBytes < this.opts.maxQueueBytes / 2;
  }

  /** The most one callback may hand in: more could never be queued, so it is a 4xx, not a 503. */
  get maxBytes(): number {
    return this.opts.maxQueueBytes;
  }

  /** Bytes waiting for the disk, in a write or not. */
  get queueBytes(): number {
    return this.queue.heldBytes;
  }

  /** Callers waiting for their lines to reach the disk, or for room. */
  get waiting(): number {
    return this.queue.callers;
  }

  /** How many times the file was (re)opened, for metrics. */
  get reopens(): number {
    return this.file.opens;
  }

  /** False while the queue is at its bound: call room() before reading another body. */
  get hasRoom(): boolean {
    return this.queue.hasRoom;
  }

  /** Resolves once the queue has room; rejects OVERLOADED at the caller's deadline (from `since`) if none came. */
  room(since = Date.now()): Promise<void> {
    return this.queue.room(since);
  }

  /**
   * Append the lines of one callback; resolves once they are written (and synced). At the
   * deadline (from `since`, when the request arrived) a caller still waiting is answered with the
   * fault of the moment, and its lines are written all the same. With `ids` (the lines' stable
   * ids, in order), lines taken in within the dedup window are not written again.
   */
  append(data: string | Buffer, since = Date.now(), ids?: readonly string[]): Promise<void> {
    if (this.finished) return Promise.reject(new AppError('SHUTTING_DOWN'));
    // An epoch that ended is sealed before this line is taken in: the line follows its seal.
    this.sealDue();
    const { done } = this.queue.add(data, since, ids);
    this.schedule();
    return done;
  }

  /** Reopen the path between batches (SIGHUP after logrotate). */
  reopen(): void {
    this.reopenWanted = true;
    this.schedule();
  }

  /**
   * Write what is queued (retrying while the disk fails, for up to `graceMs`), sync, close. What
   * could not be written in that time is counted, logged once, and returned.
   */
  async close(graceMs = Infinity): Promise<Unwritten> {
    this.closing = true;
    clearInterval(this.timers[0]);
    if (this.busy || this.queue.entries.length || this.large) {
      await new Promise<void>((resolve) => {
        // Not unref'd: the process must not end with lines queued while there is time to write them.
        const timer = Number.isFinite(graceMs) ? setTimeout(resolve, graceMs) : null;
        this.drained = () => {
          if (timer) clearTimeout(timer);
          resolve();
        };
        this.schedule();
      });
    }
    this.finished = true;
    this.drained = null;
    if (this.retry) clearTimeout(this.retry);
    if (this.sealTimer) clearTimeout(this.sealTimer);
    for (const t of this.timers) clearInterval(t);
    this.queue.refuseRoom();
    const left = [...this.small, ...this.queue.entries, ...(this.large ? [this.large.e] : [])].filter((e) => !e.written);
    const unwritten = { callbacks: left.length, lines: left.reduce((n, e) => n + countLines(this.large?.e === e ? this.large.buf.subarray(this.large.done) : e.data), 0) };
    if (unwritten.callbacks) {
      this.opts.log.error({ stage: 'stopping', file: this.opts.path, fault: this.fault, ...unwritten }, 'audit lines not written before exit: their callers were not acknowledged');
    }
    // A write still hanging on a sick disk keeps its fd; the process is about to exit anyway.
    if (!this.busy) this.file.close();
    return unwritten;
  }

  /** Queue the seals owed now (sealer.ts), and arm the timer for the next epoch's end: an idle epoch is sealed too. */
  private sealDue(): void {
    const sealer = this.opts.sealer;
    if (!sealer || this.finished) return;
    const seals = sealer.due();
    for (const seal of seals) this.queue.entries.push({ data: '', bytes: 0, waiters: [], written: false, seal });
    if (seals.length) this.schedule();
    if (this.sealTimer && !seals.length) return;
    if (this.sealTimer) clearTimeout(this.sealTimer);
    this.sealTimer = setTimeout(() => {
      this.sealTimer = null;
      this.sealDue();
    }, Math.max(0, sealer.nextDue - sealer.now()));
    this.sealTimer.unref();
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
    if (this.busy || this.retry || this.finished) return;
    if (this.unevolved && !this.evolve(this.unevolved)) return this.retryLater();
    if (this.queue.entries.length || this.large || this.reopenWanted) this.followRename();
    const entries = this.queue.entries;
    if (!this.file.isOpen) return; // the open is retried with backoff
    // One pass: the small callbacks all go now; the large ones wait in the queue, in order. A
    // seal is a barrier: it waits for every line before it, and ends its write (seals may follow
    // it), so that after a kill between that write and the key's evolution the trail's last line
    // is the seal (sealer.ts, resume).
    const sliceBytes = this.opts.sliceBytes ?? SLICE_BYTES;
    const small: Entry[] = [];
    const waiting: Entry[] = [];
    let barred = false;
    let sealed = false;
    for (const e of entries) {
      if (!barred && ((e.seal && (waiting.length || this.large)) || (sealed && !e.seal))) barred = true;
      (!barred && e.bytes <= sliceBytes ? small : waiting).push(e);
      sealed ||= !barred && e.seal !== undefined;
    }
    // Large callbacks start one at a time, in the order they came; not in a write with a seal,
    // whose retry after a failure must find no line after it already written.
    if (this.large === null && waiting.length && !waiting[0]!.seal && !small.some((e) => e.seal)) {
      const e = waiting.shift()!;
      this.large = { e, buf: Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data), done: 0, end: 0 };
    }
    this.queue.entries = waiting;
    if (small.length === 0 && this.large === null) return this.drained?.();
    // After a slice, the small callbacks that queued behind it go alone (a quick write); then the
    // next slice, with whatever queued meanwhile riding along.
    this.write(small, this.sliced && small.length ? null : this.large);
  }

  /**
   * One write, then one sync: the small callbacks queued, then the next slice (whole lines, about
   * sliceBytes) of the large callback in progress, whose caller is answered with its last slice.
   */
  private write(small: Entry[], large: Large | null): void {
    this.busy = true;
    this.small = small;
    this.sliced = large !== null;
    this.chain?.mark();
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
      part = buf.subarray(done, end);
      if (this.chain) part = this.chain.apply(part);
    }
    const buf = part === null ? head : head.length === 0 ? part : Buffer.concat([head, part]);
    // A seal is synced whatever the durability: the key evolves once it is on disk.
    const sync = small.some((e) => e.seal);
    this.file.append(buf, (err, written, op, writeMs, syncMs) => (err ? this.failed(err, written, op) : this.release(buf.length, writeMs, syncMs)), sync);
  }

  /** The small callbacks' lines as one buffer (chained when `chain` is on). */
  private smallBytes(small: Entry[]): Buffer {
    if (small.length === 0) return Buffer.alloc(0);
    if (this.chain && small.some((e) => e.seal)) return this.sealedBytes(small);
    const raw = rawBytes(small);
    return this.chain ? this.chain.apply(raw) : raw;
  }

  /** Lines with seals among them: each seal is made for the chain head where it stands. */
  private sealedBytes(small: Entry[]): Buffer {
    const parts: Buffer[] = [];
    let run = '';
    for (const e of small) {
      if (!e.seal) {
        run += e.data.toString();
        continue;
      }
      if (run) parts.push(this.chain!.apply(run));
      run = '';
      parts.push(this.chain!.apply(e.seal.render(this.chain!.head)));
    }
    if (run) parts.push(this.chain!.apply(run));
    return Buffer.concat(parts);
  }

  /** Reopen if asked, or if the path was renamed (one stat before a write). */
  private followRename(): void {
    if (!this.reopenWanted && this.file.isOpen && this.opts.checkEachBatch !== false && this.file.moved()) {
      this.opts.log.info({ stage: 'sending', file: this.opts.path, reason: 'renamed' }, 'audit file moved; reopening');
      this.reopenWanted = true;
    }
    if (!this.reopenWanted) return;
    this.reopenWanted = false;
    const err = this.file.open();
    if (err) return this.openFailed(err);
    if (this.fault === 'NOT_READY') this.recovered();
    // Each reopen (a rotation) is sealed at once, not only at the epoch's end.
    if (this.opts.sealer) {
      this.sealDue();
      this.queue.entries.push({ data: '', bytes: 0, waiters: [], written: false, seal: this.opts.sealer.midEpoch() });
    }
  }

  /** The write in flight is on disk: answer its callers, make room, go on. */
  private release(bytes: number, writeMs: number, syncMs: number): void {
    if (this.fault) this.recovered();
    this.retryMs = RETRY_MIN_MS;
    const done = this.small;
    let freed = done.reduce((n, e) => n + e.bytes, 0);
    const large = this.sliced ? this.large : null;
    if (large) {
      freed += large.end - large.done;
      large.done = large.end;
      if (large.done === large.buf.length) {
        done.push(large.e);
        this.large = null;
      }
    }
    this.opts.onBatch?.({ callbacks: done.length, bytes, writeMs, syncMs });
    this.busy = false;
    this.small = [];
    const seals = done.filter((e) => e.seal).map((e) => e.seal!);
    for (const e of done) this.queue.written(e);
    this.queue.release(freed);
    // Before anything else is written: a line after a seal that closed its epoch is never on disk
    // while the state still holds that epoch's key (so a restart finds the seal as the last line).
    if (seals.length && !this.evolve(seals)) return this.retryLater();
    // What queued during this write is the next one: start it now rather than an event-loop turn
    // later, as the baseline does; callers waiting on the disk should not also wait on the loop.
    if (this.queue.entries.length || this.reopenWanted || this.large) this.next();
    else this.drained?.();
  }

  /**
   * A write or sync failed: cut the file back to where this write began, so that no partial (or
   * unsynced) line stays, put its callbacks back at the head of the queue, and try again after a
   * backoff. A disk that gets space back recovers without a restart, and loses nothing.
   */
  private failed(err: NodeJS.ErrnoException, written: number, op: 'write' | 'fsync'): void {
    const undone = this.file.cutBack(written);
    // The file could not be cut: a fresh open cuts a torn tail; whole lines that stayed are
    // written again (same ids: a reader sees a resend).
    if (!undone) {
      this.file.closeQuietly();
      this.reopenWanted = true;
    }
    this.chain?.rollback();
    if (this.fault !== 'WRITE_FAILED') {
      this.opts.log.error(
        { stage: 'sending', err: { code: err.code, message: err.message }, op, file: this.opts.path, undone, queued: this.queue.heldBytes },
        'audit write failed; keeping the lines and retrying',
      );
      this.enterFault('WRITE_FAILED');
    }
    this.opts.onRetry?.();
    this.queue.entries = [...this.small, ...this.queue.entries];
    this.small = [];
    this.busy = false;
    this.retryLater();
    // A deleted file or directory is fixed by a fresh open; the same file on a full disk is not.
    this.checkRotation();
  }

  /** Evolve the key past the seals just written; false (and held, and retried) when the state file could not be replaced. */
  private evolve(seals: PendingSeal[]): boolean {
    try {
      this.opts.sealer!.written(seals);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (this.unevolved === null) this.opts.log.error({ stage: 'sending', err: { code: e.code, message: e.message } }, 'cannot replace the sealing state: holding audit writes until it can be (the key must not outlive its epoch)');
      this.unevolved = seals;
      this.enterFault('WRITE_FAILED');
      return false;
    }
    if (this.unevolved) this.recovered();
    this.unevolved = null;
    return true;
  }

  private openFailed(err: NodeJS.ErrnoException): void {
    if (this.fault !== 'NOT_READY') {
      this.opts.log.error({ stage: 'sending', err: { code: err.code, message: err.message }, file: this.opts.path }, 'cannot open audit file; retrying');
      this.enterFault('NOT_READY');
    }
    this.opts.onError?.('OPEN_FAILED');
    this.retryLater();
  }

  private enterFault(code: 'WRITE_FAILED' | 'NOT_READY'): void {
    if (this.fault === null) this.faultSince = Date.now();
    this.fault = code;
  }

  private recovered(): void {
    this.opts.log.info({ stage: 'sending', file: this.opts.path, after: this.fault, ms: Date.now() - this.faultSince, queued: this.queue.heldBytes }, 'audit writes recovered');
    this.fault = null;
  }

  /** Try again (reopening first if the file is not open) after the backoff, which doubles up to its cap. */
  private retryLater(): void {
    if (this.retry || this.finished) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      if (!this.file.isOpen) this.reopenWanted = true;
      this.next();
    }, this.retryMs);
    // Not unref'd: while lines wait for the disk, the process has work to do.
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
  }

  /** Answer the callers whose deadline passed with the fault of the moment; their lines stay queued. */
  private sweep(): void {
    this.queue.expire(Date.now(), this.fault ?? (this.closing ? 'SHUTTING_DOWN' : 'DEADLINE'), this.large ? [...this.small, this.large.e] : this.small);
  }

  /** Notice a rename or deletion by an outside rotator (no SIGHUP needed). */
  private checkRotation(): void {
    if (this.reopenWanted) return;
    this.file.checkMoved((reason) => {
      if (reason === null) return;
      this.opts.log.info({ stage: 'sending', file: this.opts.path, reason }, 'audit file moved; reopening');
      this.reopen();
    });
  }
}
