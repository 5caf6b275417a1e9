/**
 * A sealed trail made by the real writer and sealer on a clock the test moves (15-minute epochs,
 * hours of them in milliseconds), and the tools of an attacker who copied the box at time T: the
 * trail and the sealing state, so the key of T's epoch and every later one, never an earlier one.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { chainLines, lineHash } from '../../src/audit/chain.js';
import { formatLines } from '../../src/audit/line.js';
import { evolveBy, formatVerificationKey, KEY_BYTES } from '../../src/audit/seal-key.js';
import { parseSeal, renderSeal, type Seal } from '../../src/audit/seal-line.js';
import { firstState, loadState, storeState } from '../../src/audit/seal-state.js';
import { Sealer } from '../../src/audit/sealer.js';
import { AuditWriter } from '../../src/audit/writer.js';
import { randomBytes } from 'node:crypto';

export const EPOCH = 15 * 60 * 1000;
const log = pino({ level: 'silent' });

type Test = { teardown(fn: () => unknown): void };

/** A folder of its own, removed after the test. */
export function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'member-exit-audit-seal-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A box: its trail, its sealing state, its clock, and a writer that runs on them. */
export class Box {
  readonly file: string;
  readonly stateFile: string;
  readonly key: string;
  clock: number;
  writer: AuditWriter | null = null;
  private n = 0;

  /** A new box with a new key whose epoch 0 began at `startMs`; or, given `at`, the box already in `dir` at that time. */
  constructor(readonly dir: string, opts: { startMs?: number; at?: number } = {}) {
    this.file = join(dir, 'trail', 'member-exit.ndjson');
    this.stateFile = join(dir, 'state', 'seal.state');
    if (opts.at !== undefined) {
      this.clock = opts.at;
      this.key = '';
      return;
    }
    const startMs = opts.startMs ?? Math.floor((Date.now() - 6 * 3600_000) / EPOCH) * EPOCH;
    this.clock = startMs;
    const v = { key0: randomBytes(KEY_BYTES), startMs, intervalMs: EPOCH };
    mkdirSync(join(dir, 'state'), { recursive: true });
    storeState(this.stateFile, firstState(v));
    this.key = formatVerificationKey(v);
  }

  /** Start the service's writer on this box's state (sealing the epochs missed since). */
  async start(writerOpts: Partial<ConstructorParameters<typeof AuditWriter>[0]> = {}, Writer = AuditWriter): Promise<void> {
    const sealer = Sealer.open({ stateFile: this.stateFile, log, now: () => this.clock })!;
    this.writer = new Writer({ path: this.file, durability: 'fsync', maxQueueBytes: 1 << 24, deadlineMs: 60000, rotateCheckMs: 60000, chain: true, sealer, log, ...writerOpts });
    await this.writer.start();
  }

  async stop(): Promise<void> {
    await this.writer?.close();
    this.writer = null;
  }

  /** `k` exits received now, one callback each, written one after the other. */
  async exits(k: number): Promise<void> {
    for (let i = 0; i < k; i++) await this.callback([`m${++this.n}`]);
  }

  /** One callback of `members` received now: resolves when its lines are written. */
  callback(members: string[]): Promise<void> {
    const e = { sdkAppId: '1400000000', groupId: '@TGS#g', groupType: 'Public', exitType: 'Quit' as const, operator: 'op', eventTime: this.clock, receivedAt: this.clock, clientIp: null, optPlatform: null };
    return this.writer!.append(formatLines(e, members).text);
  }

  /** Let `ms` pass. */
  tick(ms: number): void {
    this.clock += ms;
  }

  /** logrotate: rename the current file to `.1` (shifting the others up), then the reopen. */
  async rotate(): Promise<void> {
    const names = readdirSync(join(this.dir, 'trail')).filter((f) => /\.\d+$/.test(f)).sort((a, b) => Number(b.split('.').pop()) - Number(a.split('.').pop()));
    for (const f of names) renameSync(join(this.dir, 'trail', f), join(this.dir, 'trail', f.replace(/\d+$/, (d) => String(Number(d) + 1))));
    renameSync(this.file, `${this.file}.1`);
    this.writer!.reopen();
    await this.exits(1); // the reopen happens before the next write
  }

  /** Copy the trail and the state as they are now: what an attacker takes at time T. */
  copy(to: string): { file: string; stateFile: string } {
    cpSync(this.dir, to, { recursive: true });
    return { file: join(to, 'trail', 'member-exit.ndjson'), stateFile: join(to, 'state', 'seal.state') };
  }
}

/** The trail's files, oldest first, as logrotate leaves them (plain or gzip). */
export function trailFiles(file: string): string[] {
  const dir = join(file, '..');
  const rank = (f: string) => (f === 'member-exit.ndjson' ? -1 : Number(/\.(\d+)/.exec(f)![1]));
  return readdirSync(dir)
    .filter((f) => f.startsWith('member-exit.ndjson'))
    .sort((a, b) => rank(b) - rank(a))
    .map((f) => join(dir, f));
}

export interface TrailLine {
  file: string;
  text: string;
}

/** Every line of the trail in order, with its file. */
export function readTrail(file: string): TrailLine[] {
  const out: TrailLine[] = [];
  for (const f of trailFiles(file)) {
    const raw = readFileSync(f);
    const text = (raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw).toString();
    for (const l of text.split('\n').slice(0, -1)) out.push({ file: f, text: l });
  }
  return out;
}

/** Write `lines` back to their files (gzip where the name says .gz), removing files left empty. */
export function writeTrail(file: string, lines: readonly TrailLine[]): void {
  for (const f of trailFiles(file)) unlinkSync(f);
  const by = new Map<string, string>();
  for (const l of lines) by.set(l.file, (by.get(l.file) ?? '') + l.text + '\n');
  for (const [f, text] of by) writeFileSync(f, f.endsWith('.gz') ? gzipSync(text) : text);
}

/** Gzip the files logrotate would have compressed (`.N` for N >= 2). */
export function compressOld(file: string): void {
  for (const f of trailFiles(file)) {
    const m = /\.(\d+)$/.exec(f);
    if (!m || Number(m[1]) < 2) continue;
    writeFileSync(`${f}.gz`, gzipSync(readFileSync(f)));
    unlinkSync(f);
  }
}

/** The 1-based line number of line `i` within its file. */
export function lineNo(lines: readonly TrailLine[], i: number): number {
  let n = 0;
  for (let k = 0; k <= i; k++) if (lines[k]!.file === lines[i]!.file) n++;
  return n;
}

export const isSeal = (l: TrailLine) => l.text.includes('"event":"seal"');
export const sealOf = (l: TrailLine) => parseSeal(l.text)!;

/**
 * The attacker's rebuild: from line `from` on, every `prev` recomputed, and each seal passed to
 * `reseal` (its fields, the new head): a seal line (without prev) to put in its place, or null to
 * drop it. Without `reseal`, the seals are kept as they were (their MACs now over other heads).
 */
export function rebuild(lines: readonly TrailLine[], from: number, reseal?: (s: Seal, head: string) => string | null): TrailLine[] {
  const out = lines.slice(0, from);
  let head = from === 0 ? '0'.repeat(64) : lineHash(out.at(-1)!.text);
  for (const l of lines.slice(from)) {
    let bare = l.text.replace(/,"prev":"[0-9a-f]{64}"\}$/, '}') + '\n';
    if (isSeal(l) && reseal) {
      const again = reseal(sealOf(l), head);
      if (again === null) continue;
      bare = again;
    } else if (isSeal(l)) {
      // The seal kept byte for byte but its prev: its id and MAC still say the old head.
      bare = l.text.replace(/,"prev":"[0-9a-f]{64}"\}$/, '}') + '\n';
    }
    const { text, head: next } = chainLines(bare, head);
    out.push({ file: l.file, text: text.slice(0, -1) });
    head = next;
  }
  return out;
}

/**
 * The attacker's sealing: with the state copied at T, a seal of any epoch from T's on; an older
 * seal is dropped, or (`forge`) made again under its own epoch with the only key there is.
 */
export function attackerSealer(stateFile: string, forge = false): (s: Seal, head: string) => string | null {
  const state = loadState(stateFile)!;
  return (s, head) => (s.epoch >= state.epoch ? renderSeal(s, head, evolveBy(state.key, s.epoch - state.epoch)) : forge ? renderSeal(s, head, state.key) : null);
}
