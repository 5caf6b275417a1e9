/**
 * The ids the writer wrote in the last few minutes, so that a callback Tencent resends (after its
 * first delivery timed out while the disk was slow) is not written twice: a resend carries the
 * same EventTime and so the same ids (docs/audit-line.md). Bounded twice over: two generations,
 * each at most half of `maxIds` ids and half of `windowMs` old; the older is dropped whole. Only
 * ids whose lines are on disk are here; ids still queued are the queue's (queue.ts). The ids are
 * kept as 128-bit keys in typed arrays (id-table.ts), not as strings.
 */
import fs from 'node:fs';
import { IdTable } from './id-table.js';

/** Bytes read backwards per step when rebuilding the set from the file's tail at start. */
const CHUNK = 256 * 1024;

/** How much later than its receipt a line may be written (a disk that was full for minutes). */
const LATE_MS = 10 * 60 * 1000;

const ID = /"id":"([0-9a-f]{32})"/;
const RECEIVED = /"receivedAt":"([^"]{24})"/;

export class RecentIds {
  private current = new IdTable();
  private older = new IdTable();
  private since: number;

  constructor(
    private readonly windowMs: number,
    private readonly maxIds: number,
    private readonly now: () => number = Date.now,
  ) {
    this.since = now();
  }

  get size(): number {
    return this.current.size + this.older.size;
  }

  has(id: string): boolean {
    return this.current.has(id) || this.older.has(id);
  }

  /** Every one of `ids` (one callback's lines, or the file's tail at start): the clock is read once. */
  addAll(ids: readonly string[]): void {
    const now = this.now();
    if (now - this.since >= this.windowMs / 2) this.turn(now);
    const half = this.maxIds / 2;
    for (const id of ids) {
      if (this.current.size >= half) this.turn(now);
      this.current.set(id);
    }
  }

  /** The current generation becomes the older one; the older is dropped whole. */
  private turn(now: number): void {
    this.older = this.current;
    this.current = new IdTable();
    this.since = now;
  }
}

/**
 * The ids of the lines at the end of `path` received within `windowMs` of `now`, newest last, at
 * most `maxIds`: read backwards, so a 1 GB file costs only its tail. A line without an id in the
 * service's form (a foreign line) is passed over.
 */
export function idsAtTail(path: string, windowMs: number, maxIds: number, now = Date.now()): string[] {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch {
    return [];
  }
  const ids: string[] = [];
  try {
    if (!fs.fstatSync(fd).isFile()) return [];
    const oldest = now - windowMs;
    let end = fs.fstatSync(fd).size;
    let carry = Buffer.alloc(0);
    const buf = Buffer.alloc(CHUNK);
    for (;;) {
      const len = Math.min(CHUNK, end);
      if (len === 0) break;
      fs.readSync(fd, buf, 0, len, end - len);
      end -= len;
      const text = Buffer.concat([buf.subarray(0, len), carry]);
      // Whole lines only: the part before the first newline may continue further back.
      const first = end === 0 ? -1 : text.indexOf(0x0a);
      carry = text.subarray(0, first + 1);
      const lines = text.subarray(first + 1).toString().split('\n');
      for (let i = lines.length - 1; i >= 0; i--) {
        const line = lines[i]!;
        const id = ID.exec(line)?.[1];
        const at = RECEIVED.exec(line)?.[1];
        if (!id || !at) continue;
        const ms = Date.parse(at);
        // Lines are not strictly in receipt order (a callback held through a disk fault is written
        // late): stop only well past the window, and keep only what is inside it.
        if (ms < oldest - LATE_MS || ids.length >= maxIds) return ids.reverse();
        if (ms >= oldest) ids.push(id);
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return ids.reverse();
}
