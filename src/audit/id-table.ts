/**
 * A hash table of line ids in typed arrays: each id is the 128 bits of its 32 lowercase hex
 * characters (line.ts), mapped to a small integer (0 where only membership matters). Open
 * addressing with linear probing, at most half full; deletion shifts the run back, so there are
 * no tombstones.
 *
 * Why not a Map or a Set of strings (issue #24): the resend window keeps up to `dedupMaxIds` ids
 * for minutes. As strings in a Set they cost ~75 bytes each, every one was promoted to old space
 * (V8 promotes what a long-lived Set holds at a scavenge), and a 100,000-member dismissal spent
 * ~150 ms in the window and as much again in GC. Here a slot costs 20 bytes, outside the
 * JavaScript heap, and a table is between a quarter and half full: 40 to 80 bytes an id (53 in a
 * full generation of the window, measured), and adding one allocates nothing. A table emptied
 * (the queue's, after a burst) goes back to its smallest size.
 */

/** Smallest table: 1,024 slots (20 KiB). It doubles when half full. */
const MIN_SLOTS = 1024;

/** A slot whose value is this holds no id. */
const FREE = -1;

/** The value of each ASCII code as a lowercase hex digit, or -1. */
const HEX = new Int8Array(128).fill(-1);
for (let d = 0; d < 16; d++) HEX['0123456789abcdef'.charCodeAt(d)] = d;

/** Scratch for the id being looked up: no allocation per call. */
const key = new Int32Array(4);

/** The id's 128 bits into `key`; false when it is not 32 lowercase hex characters. */
function parse(id: string): boolean {
  if (id.length !== 32) return false;
  for (let w = 0; w < 4; w++) {
    let v = 0;
    for (let i = w * 8; i < w * 8 + 8; i++) {
      const c = id.charCodeAt(i);
      const d = c < 128 ? HEX[c]! : -1;
      if (d < 0) return false;
      v = (v << 4) | d;
    }
    key[w] = v;
  }
  return true;
}

export class IdTable {
  private words!: Int32Array;
  private values!: Int32Array;
  private mask!: number;
  /** Ids held. */
  size = 0;

  constructor() {
    this.empty(MIN_SLOTS);
  }

  /**
   * The value held for `id`, or undefined. An id that is not 32 lowercase hex characters is never
   * held (the service makes no other: docs/audit-line.md), so it is never found either.
   */
  get(id: string): number | undefined {
    if (!parse(id)) return undefined;
    const at = this.find();
    return at < 0 ? undefined : this.values[at];
  }

  has(id: string): boolean {
    return this.get(id) !== undefined;
  }

  /** Hold `id` with `value` (0 or more), replacing what it had. */
  set(id: string, value = 0): void {
    // Before the id is parsed: growing places every id again through the same scratch key.
    if ((this.size + 1) * 2 > this.values.length) this.grow();
    if (!parse(id)) return;
    const at = this.find();
    if (at >= 0) {
      this.values[at] = value;
      return;
    }
    this.place(~at, value);
    this.size++;
  }

  /** Forget `id`; false when it was not held. */
  delete(id: string): boolean {
    if (!parse(id)) return false;
    let hole = this.find();
    if (hole < 0) return false;
    const { words, values, mask } = this;
    values[hole] = FREE;
    if (--this.size === 0 && values.length > MIN_SLOTS) {
      this.empty(MIN_SLOTS);
      return true;
    }
    // Shift back the run after the hole: an id moves into it unless its home slot lies
    // (cyclically) after the hole, so that every id stays reachable from its home.
    for (let j = (hole + 1) & mask; values[j] !== FREE; j = (j + 1) & mask) {
      const home = words[j * 4]! & mask;
      if (((j - home) & mask) < ((j - hole) & mask)) continue;
      // Four element copies: copyWithin and set are calls into the runtime, ten times the cost.
      words[hole * 4] = words[j * 4]!;
      words[hole * 4 + 1] = words[j * 4 + 1]!;
      words[hole * 4 + 2] = words[j * 4 + 2]!;
      words[hole * 4 + 3] = words[j * 4 + 3]!;
      values[hole] = values[j]!;
      values[j] = FREE;
      hole = j;
    }
    return true;
  }

  /** The slot holding `key`, or the bitwise NOT of the free slot where it would go. */
  private find(): number {
    const { words, values, mask } = this;
    // The words are SHA-256 output: the first is as good a hash as any.
    for (let slot = key[0]! & mask; ; slot = (slot + 1) & mask) {
      if (values[slot] === FREE) return ~slot;
      const w = slot * 4;
      if (words[w] === key[0] && words[w + 1] === key[1] && words[w + 2] === key[2] && words[w + 3] === key[3]) return slot;
    }
  }

  /** `key` with `value` into the free slot `slot`. */
  private place(slot: number, value: number): void {
    const { words } = this;
    words[slot * 4] = key[0]!;
    words[slot * 4 + 1] = key[1]!;
    words[slot * 4 + 2] = key[2]!;
    words[slot * 4 + 3] = key[3]!;
    this.values[slot] = value;
  }

  /** `slots` free slots (a power of two). */
  private empty(slots: number): void {
    this.words = new Int32Array(slots * 4);
    this.values = new Int32Array(slots).fill(FREE);
    this.mask = slots - 1;
  }

  /** Twice the slots, every id placed again. */
  private grow(): void {
    const { words, values } = this;
    this.empty(values.length * 2);
    for (let slot = 0; slot < values.length; slot++) {
      if (values[slot] === FREE) continue;
      key[0] = words[slot * 4]!;
      key[1] = words[slot * 4 + 1]!;
      key[2] = words[slot * 4 + 2]!;
      key[3] = words[slot * 4 + 3]!;
      this.place(~this.find(), values[slot]!);
    }
  }
}
