/**
 * What waits for the disk, and who waits for it: the callbacks' lines in the order they came, the
 * callers to answer once *their* lines are on disk, and the callers waiting for room.
 *
 * Nothing taken in is ever dropped (issue #19): Tencent ignores the reply to an after-callback and
 * resends only what timed out, so an exit answered with a quick FAIL is lost for good. A caller
 * whose lines are not on disk by its deadline (set above Tencent's 2 s timeout) is answered with
 * the fault of the moment, and its lines stay queued and are written when the disk allows.
 * Memory is bounded the other way round: past `maxBytes`, new callers wait for room before their
 * body is read (TCP pushes back on the IM backend), and are answered OVERLOADED at their deadline
 * if none came, having added nothing.
 */
import { AppError, type ErrorName } from '../errors.js';
import { IdTable } from './id-table.js';
import { RecentIds } from './recent-ids.js';
import type { PendingSeal } from './sealer.js';

/** The lines of one callback (or what is left of them after duplicates were dropped). */
export interface Entry {
  data: string | Buffer;
  bytes: number;
  /** Callers answered when this entry is on disk (its own, and any resend that waits for it). */
  waiters: Waiter[];
  written: boolean;
  /** The ids of the callback's lines, while they are queued: `pending` finds this entry by them until it is written. */
  ids?: readonly string[];
  /** Where `pending` keeps this entry while its ids are queued. */
  slot?: number;
  /** A seal (sealer.ts), rendered at write time for the chain head before it; `data` is then empty. */
  seal?: PendingSeal;
}

/** One caller: answered OK when every entry it waits for is on disk, or with a fault at `expires`. */
interface Waiter {
  expires: number;
  remaining: number;
  answered: boolean;
  /** Its own entry's lines, counted only if they are written after it was answered (rare). */
  own: string | Buffer | null;
  resolve(): void;
  reject(err: AppError): void;
}

interface RoomWaiter {
  expires: number;
  resolve(): void;
  reject(err: AppError): void;
}

const EMPTY = Buffer.alloc(0);

/** Lines in `data` (each ends in a newline). */
export function countLines(data: string | Buffer): number {
  let n = 0;
  if (typeof data === 'string') for (let at = data.indexOf('\n'); at !== -1; at = data.indexOf('\n', at + 1)) n++;
  else for (let at = data.indexOf(0x0a); at !== -1; at = data.indexOf(0x0a, at + 1)) n++;
  return n;
}

/** `data` without the lines whose index is marked in `drop`. */
function dropLines(data: string | Buffer, drop: readonly boolean[]): string {
  return data
    .toString()
    .split('\n')
    .slice(0, -1)
    .filter((_, i) => !drop[i])
    .map((l) => l + '\n')
    .join('');
}

export interface QueueOptions {
  /** Bytes that may wait for the disk before new callers wait for room. */
  maxBytes: number;
  /** A caller is answered at most this long after it arrived. */
  deadlineMs: number;
  /** Ids taken in within this window are not written again (0: no deduplication), at most `maxIds` remembered. */
  dedupWindowMs: number;
  dedupMaxIds: number;
  /** Told about each caller answered with a fault, and about lines skipped or written late. */
  onAnswered?: (code: ErrorName) => void;
  onLines?: (kind: 'duplicate' | 'late', n: number) => void;
}

export class WriteQueue {
  /** Entries not yet handed to a write, oldest first. */
  entries: Entry[] = [];
  /** Bytes of every entry not yet on disk, in a write or not. */
  heldBytes = 0;
  /** Callers not answered yet (their waiters hang off the entries they wait for). */
  private unanswered = 0;
  private roomWaiters: RoomWaiter[] = [];
  /** Ids on disk lately: a resend of one is not written again (null: no deduplication). */
  private readonly recent: RecentIds | null;
  /**
   * Ids queued and not yet on disk, each to the slot of the entry that carries it: a resend of one
   * waits for that entry. Issue #24: V8 promotes to old space whatever a long-lived Map or Set
   * holds at a scavenge, however short its life (measured: 0.7 MB a scavenge where an array
   * holding the same objects promoted nothing). So nothing long-lived here holds anything of a
   * request in a Map or Set: the ids are keys in typed arrays, the entries sit in an array of slots.
   */
  private readonly pending = new IdTable();
  private readonly slots: (Entry | undefined)[] = [];
  private readonly freeSlots: number[] = [];

  constructor(private readonly opts: QueueOptions) {
    this.recent = opts.dedupWindowMs > 0 ? new RecentIds(opts.dedupWindowMs, opts.dedupMaxIds) : null;
  }

  get hasRoom(): boolean {
    return this.heldBytes < this.opts.maxBytes;
  }

  /** Callers waiting for their lines (or for room). */
  get callers(): number {
    return this.unanswered + this.roomWaiters.length;
  }

  /** Ids found in the file at start: a resend of those is not written again. */
  remember(ids: readonly string[]): void {
    this.recent?.addAll(ids);
  }

  /** Resolves once there is room; rejects OVERLOADED at the caller's deadline if none came. */
  room(since: number): Promise<void> {
    if (this.hasRoom) return Promise.resolve();
    return new Promise((resolve, reject) => this.roomWaiters.push({ expires: since + this.opts.deadlineMs, resolve, reject }));
  }

  /**
   * Take in one callback's lines (`ids`: their stable ids, line by line, when they have them).
   * Resolves when they are on disk; a line whose id was taken in lately is not queued again, and
   * the caller then waits for that earlier copy instead.
   */
  add(data: string | Buffer, since: number, ids?: readonly string[]): { entry: Entry | null; done: Promise<void> } {
    let entry: Entry | null = null;
    const done = new Promise<void>((resolve, reject) => {
      const w: Waiter = { expires: since + this.opts.deadlineMs, remaining: 0, answered: false, own: null, resolve, reject };
      let text = data;
      // The ids not taken in lately: each looked up once (a dismissal brings 100,000 of them).
      let fresh: readonly string[] | undefined;
      if (ids && this.recent) ({ text, fresh } = this.dropSeen(data, ids, w));
      if (text.length) {
        entry = { data: text, bytes: Buffer.byteLength(text), waiters: [w], written: false, ids: fresh };
        w.remaining++;
        w.own = text;
        this.entries.push(entry);
        this.heldBytes += entry.bytes;
        if (fresh) this.hold(entry, fresh);
      }
      if (w.remaining === 0) resolve();
      else this.unanswered++;
    });
    return { entry, done };
  }

  /** Make `entry` findable by its `ids` until it is written. */
  private hold(entry: Entry, ids: readonly string[]): void {
    const slot = this.freeSlots.pop() ?? this.slots.length;
    this.slots[slot] = entry;
    entry.slot = slot;
    for (const id of ids) this.pending.set(id, slot);
  }

  /**
   * `data` without lines already taken in, and the ids of those left; the waiter waits for the
   * earlier copies still queued.
   */
  private dropSeen(data: string | Buffer, ids: readonly string[], w: Waiter): { text: string | Buffer; fresh: readonly string[] } {
    // Both made only when a duplicate turns up: most callbacks have none.
    let drop: boolean[] | null = null;
    let earlier: Set<Entry> | null = null;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const slot = this.pending.get(id);
      if (slot === undefined && !this.recent!.has(id)) continue;
      (drop ??= new Array<boolean>(ids.length).fill(false))[i] = true;
      if (slot !== undefined) (earlier ??= new Set()).add(this.slots[slot]!);
    }
    if (drop === null) return { text: data, fresh: ids };
    for (const e of earlier ?? []) {
      e.waiters.push(w);
      w.remaining++;
    }
    this.opts.onLines?.('duplicate', drop.filter(Boolean).length);
    return { text: dropLines(data, drop), fresh: ids.filter((_, i) => !drop[i]) };
  }

  /** `bytes` of held lines reached the disk: make room. */
  release(bytes: number): void {
    this.heldBytes -= bytes;
    while (this.roomWaiters.length && this.hasRoom) this.roomWaiters.shift()!.resolve();
  }

  /** An entry is on disk: answer whoever waited for it and nothing else. */
  written(e: Entry): void {
    e.written = true;
    for (const w of e.waiters) {
      if (--w.remaining > 0) continue;
      if (w.answered) this.opts.onLines?.('late', w.own === null ? 0 : countLines(w.own));
      else {
        w.answered = true;
        this.unanswered--;
        w.resolve();
      }
      w.own = null;
    }
    e.waiters = [];
    e.data = EMPTY;
    // Written: a resend of these ids has nothing left to wait for, only to be left out.
    if (e.ids) {
      for (const id of e.ids) this.pending.delete(id);
      this.recent!.addAll(e.ids);
      this.slots[e.slot!] = undefined;
      this.freeSlots.push(e.slot!);
    }
    e.ids = undefined;
  }

  /**
   * Answer the callers whose deadline has passed: `code` for those whose lines are queued (here,
   * or `inFlight`: handed to a write), OVERLOADED for those still waiting for room.
   */
  expire(now: number, code: ErrorName, inFlight: readonly Entry[] = []): void {
    if (this.unanswered) for (const list of [inFlight, this.entries]) for (const e of list) for (const w of e.waiters) this.expireOne(w, now, code);
    if (this.roomWaiters.length === 0) return;
    this.roomWaiters = this.roomWaiters.filter((r) => {
      if (r.expires > now) return true;
      this.opts.onAnswered?.('OVERLOADED');
      r.reject(new AppError('OVERLOADED'));
      return false;
    });
  }

  private expireOne(w: Waiter, now: number, code: ErrorName): void {
    if (w.answered || w.expires > now) return;
    w.answered = true;
    this.unanswered--;
    this.opts.onAnswered?.(code);
    w.reject(new AppError(code));
  }

  /** At exit: refuse whoever still waits for room (they added nothing). */
  refuseRoom(): void {
    for (const r of this.roomWaiters.splice(0)) r.reject(new AppError('SHUTTING_DOWN'));
  }
}
