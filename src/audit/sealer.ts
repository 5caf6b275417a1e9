/**
 * Sealing as the writer runs it (issue #21): which seals are owed and when, the MAC key each one
 * takes, and the key's evolution once a seal that closes an epoch is on disk.
 *
 * The writer asks for the seals owed before it takes in any lines (`due`), so a line taken in
 * after an epoch's end always follows that epoch's seal, and every line taken in before it
 * precedes it, however late the disk let it be written. An epoch without traffic is sealed too
 * (the writer's timer asks at each epoch's end), and at start the epochs missed while the service
 * was down are sealed first: so a verifier can count on one closing seal per epoch, and a gap
 * means lines or files were removed.
 *
 * The key of an epoch leaves the disk only once that epoch's closing seal is written and synced
 * (`written`): killed before, the service starts again with that key and seals the epoch then;
 * killed between the seal's write and the evolution, it finds that seal as the trail's last line
 * and evolves without sealing twice.
 */
import type { Logger } from 'pino';
import { evolveBy, epochAt } from './seal-key.js';
import { parseSeal, renderSeal, type Seal } from './seal-line.js';
import { loadState, storeState, type SealState } from './seal-state.js';

/** A seal waiting in the writer's queue: rendered when its place in the chain is known. */
export interface PendingSeal extends Seal {
  /** The seal line for the chain head before it (without `prev`, which the chain adds). */
  render(head: string): string;
}

export interface SealerOptions {
  /** The state file (config audit.seal.stateFile). */
  stateFile: string;
  log: Logger;
  /** The clock, for tests; Date.now by default. */
  now?: () => number;
}

export class Sealer {
  /** The next epoch owed a closing seal; everything before it has one, in the queue or on disk. */
  private issued: number;
  /** Keys of epochs from the state's on, derived in memory for seals not yet on disk. */
  private readonly keys = new Map<number, Buffer>();
  readonly now: () => number;

  private constructor(
    private state: SealState,
    private readonly opts: SealerOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.issued = state.epoch;
    this.keys.set(state.epoch, state.key);
  }

  /** The sealer for the state at `stateFile`, or null when setup-keys has not made one. Throws StateError on a bad file. */
  static open(opts: SealerOptions): Sealer | null {
    const state = loadState(opts.stateFile);
    return state && new Sealer(state, opts);
  }

  get fingerprint(): string {
    return this.state.fingerprint;
  }

  get epoch(): number {
    return this.state.epoch;
  }

  get intervalMs(): number {
    return this.state.intervalMs;
  }

  /** When the epoch now owed a seal ends (the writer's timer fires then). */
  get nextDue(): number {
    return this.state.startMs + (this.issued + 1) * this.state.intervalMs;
  }

  /**
   * At start, given the trail's last line: if it is a seal that closed the state's epoch or a
   * later one (the process died after writing it, before the key evolved), evolve now rather than
   * seal that epoch twice.
   */
  resume(lastLine: string | null): void {
    const s = lastLine === null ? null : parseSeal(lastLine);
    if (s && s.final && s.key === this.state.fingerprint && s.epoch >= this.state.epoch) {
      this.opts.log.info({ stage: 'starting', epoch: s.epoch }, 'the last seal was written but the key not yet evolved: evolving it now');
      this.written([s]);
    }
  }

  /** The closing seals owed at `now`, oldest first: one per epoch that has ended since the last. */
  due(now = this.now()): PendingSeal[] {
    const current = epochAt(this.state, now);
    const out: PendingSeal[] = [];
    for (; this.issued < current; this.issued++) out.push(this.pending(this.issued, true, now));
    return out;
  }

  /** A seal of the epoch in progress (at a reopen): it covers the lines so far without closing the epoch. */
  midEpoch(now = this.now()): PendingSeal {
    return this.pending(this.issued, false, now);
  }

  private pending(epoch: number, final: boolean, now: number): PendingSeal {
    const key = this.keyOf(epoch);
    const seal: Seal = { time: new Date(now).toISOString(), epoch, final, key: this.state.fingerprint };
    return { ...seal, render: (head) => renderSeal(seal, head, key) };
  }

  private keyOf(epoch: number): Buffer {
    let k = this.keys.get(epoch);
    if (!k) {
      const below = Math.max(...[...this.keys.keys()].filter((e) => e < epoch));
      k = evolveBy(this.keys.get(below)!, epoch - below);
      this.keys.set(epoch, k);
    }
    return k;
  }

  /**
   * Seals are on disk (written and synced): past the newest closing one, evolve the key and
   * replace the state file, then erase every key before the new one from memory. Throws when the
   * state cannot be written; the writer holds further writes and calls this again.
   */
  written(seals: readonly Seal[]): void {
    const closed = seals.filter((s) => s.final).reduce((n, s) => Math.max(n, s.epoch), -1);
    if (closed < this.state.epoch) return;
    const next = closed + 1;
    const key = this.keys.get(next) ?? evolveBy(this.keyOf(closed), 1);
    storeState(this.opts.stateFile, { ...this.state, epoch: next, key });
    for (const [e, k] of this.keys) {
      if (e >= next) continue;
      k.fill(0);
      this.keys.delete(e);
    }
    this.keys.set(next, key);
    this.state = { ...this.state, epoch: next, key };
    if (this.issued < next) this.issued = next;
  }
}
