/**
 * `verify --verify-key K`: the chain and the seals in one pass over the trail (issue #21). For
 * every sealed epoch it proves that no line was altered, inserted, removed or reordered (the
 * seal's MAC covers the chain head), that no epoch is missing (one closing seal per epoch, in
 * order: what CVE-2023-31438 let through in journald), and that no seal was made with a key newer
 * than the lines it covers (their receivedAt lies in its epoch: CVE-2023-31439). It names the
 * first line that fails, and says what it cannot prove: the lines after the last seal, the seals
 * that should have followed it, and a trail deleted whole.
 */
import { GENESIS, lineHash } from '../audit/chain.js';
import { epochAt, epochStart, evolveBy, fingerprint, parseVerificationKey, type VerificationKey } from '../audit/seal-key.js';
import { LATE_MS, parseSeal, SEAL_EVENT, sealMatches } from '../audit/seal-line.js';
import { MAX_LINE, type Line } from './reader.js';
import { visible } from '../visible.js';

type Io = { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream };

const iso = (ms: number) => new Date(ms).toISOString();

/** Where a line is, and the time it was received. */
interface Mark {
  where: string;
  ms: number;
}

interface LastSeal {
  epoch: number;
  final: boolean;
  where: string;
  time: string;
}

/** What the walk found: the first failure, or what holds. */
export type Sealed =
  | { broken: string }
  | { lines: number; anchor: string | null; seals: number; first: LastSeal | null; last: LastSeal | null; unsealed: number; unsealedFrom: string | null };

/** One pass over `lines` with the verification key `v`. */
export async function checkSealed(lines: AsyncIterable<Line>, v: VerificationKey, genesis: boolean): Promise<Sealed> {
  const fp = fingerprint(v);
  const broken = (where: string, why: string) => ({ broken: `${where}: ${why}` });
  let prevHash: string | null = null;
  let prevWhere = '';
  let anchor: string | null = null;
  let count = 0;
  let key: Buffer = Buffer.from(v.key0);
  let keyEpoch = 0;
  let first: LastSeal | null = null;
  let last: LastSeal | null = null;
  let seals = 0;
  let sealedLines = 0;
  // The lines since the last seal: the earliest and latest received, and where the span starts.
  let min: Mark | null = null;
  let max: Mark | null = null;
  let spanFrom: string | null = null;
  for await (const line of lines) {
    const where = `${visible(line.file)}:${line.lineNo}`;
    if (line.tooLong) return broken(where, `a line longer than ${MAX_LINE} bytes: not written by this service`);
    const text = line.bytes.toString('utf8');
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return broken(where, 'not a JSON line (altered or torn)');
    }
    const prev = o.prev;
    if (prev === undefined) return broken(where, 'a line without "prev": with --verify-key every line must be chained (inserted, or written before audit.chain was on: name the files after it to verify the rest)');
    if (typeof prev !== 'string' || !/^[0-9a-f]{64}$/.test(prev)) return broken(where, 'no valid "prev" field (a line inserted or altered)');
    if (prevHash === null) {
      anchor = prev;
      if (genesis && prev !== GENESIS) return broken(where, 'the first line is not the first line ever (--genesis): earlier lines or files are missing');
    } else if (prev !== prevHash) {
      const at = line.lineNo === 1 && !prevWhere.startsWith(`${visible(line.file)}:`) ? ` (the first line of its file; the one before is ${prevWhere}: a file or lines between them are missing or altered)` : '';
      return broken(where, `"prev" is not the hash of the line before: a line was removed, inserted or reordered here, or the line before was altered${at}`);
    }
    prevHash = lineHash(line.bytes);
    prevWhere = where;
    count++;
    spanFrom ??= where;
    if (o.event !== SEAL_EVENT) {
      const ms = typeof o.receivedAt === 'string' ? Date.parse(o.receivedAt) : NaN;
      if (Number.isNaN(ms)) return broken(where, 'not an audit line (no receivedAt): not written by this service');
      if (!min || ms < min.ms) min = { where, ms };
      if (!max || ms >= max.ms) max = { where, ms };
      continue;
    }
    const s = parseSeal(text);
    if (!s) return broken(where, 'a seal line not as the service writes it (altered)');
    if (s.key !== fp) return broken(where, `sealed with another key (${s.key}; this verification key is ${fp}): the sealing state was replaced here (setup-keys --force: verify the files from here on with the new key), or the seal is forged`);
    const e = s.epoch;
    if (!last) {
      if (genesis && e !== 0) return broken(where, `the first seal is of epoch ${e}, not 0 (--genesis): the files holding the seals before it are missing`);
    } else if (last.final && e !== last.epoch + 1) {
      if (e <= last.epoch) return broken(where, `a seal of epoch ${e} after the seal that closed epoch ${last.epoch} (${last.where}): seals out of order`);
      return broken(where, `no seal for epoch${e - last.epoch > 2 ? `s ${last.epoch + 1} to ${e - 1}` : ` ${last.epoch + 1}`} between ${last.where} and here: lines or a file were removed there, or the trail was cut and continued`);
    } else if (!last.final && e !== last.epoch) {
      if (e < last.epoch) return broken(where, `a seal of epoch ${e} after one of epoch ${last.epoch} (${last.where}): seals out of order`);
      return broken(where, `epoch ${last.epoch} was never closed (the seal at ${last.where} is a mid-epoch one): what followed it was removed, or the trail was cut there and continued`);
    }
    if (e > keyEpoch) {
      const next = evolveBy(key, e - keyEpoch);
      key.fill(0);
      [key, keyEpoch] = [next, e];
    }
    const since = last ? `since the seal at ${last.where}` : 'before it';
    if (!sealMatches(s, key)) return broken(where, `the seal of epoch ${e} does not match: a line ${since} was altered, inserted, removed or reordered (and the chain rebuilt), or the seal is forged`);
    // The first seal of epoch 0 covers whatever was in the trail when sealing began; any other
    // covers only lines received in its epoch, or up to LATE_MS before it (seal-line.ts).
    if (!(last === null && e === 0)) {
      const from = epochStart(v, e) - LATE_MS;
      const to = epochStart(v, e + 1);
      if (min && min.ms < from) return broken(min.where, `received ${iso(min.ms)}, yet covered by the seal of epoch ${e} (${where}), which began ${iso(epochStart(v, e))}: sealed with a key newer than the line (re-sealed after the older seals were removed)`);
      if (max && max.ms >= to) return broken(max.where, `received ${iso(max.ms)}, after epoch ${e} ended (${iso(to)}), yet covered by its seal (${where}): a line with a forged time, or a forged seal`);
    }
    last = { epoch: e, final: s.final, where, time: s.time };
    first ??= last;
    seals++;
    sealedLines = count;
    [min, max, spanFrom] = [null, null, null];
  }
  key.fill(0);
  return { lines: count, anchor, seals, first, last, unsealed: count - sealedLines, unsealedFrom: spanFrom };
}

/** `verify --verify-key KEY` over `files`, printing to `io`: 0 proven, 1 broken or not sealed, 2 a bad key, 3 nothing chained. */
export async function verifySealed(lines: AsyncIterable<Line>, files: () => number, keyText: string, genesis: boolean, io: Io, now = Date.now()): Promise<number> {
  let v: VerificationKey;
  try {
    v = parseVerificationKey(keyText);
  } catch (err) {
    io.stderr.write(`member-exit-audit verify: --verify-key: ${(err as Error).message}\n`);
    return 2;
  }
  // The trail's lines as verify reads them (src/trail/scan.ts): regular files only; one it
  // cannot read is the caller's to report.
  const r = await checkSealed(lines, v, genesis);
  if ('broken' in r) {
    io.stdout.write(`BROKEN at ${r.broken}\n`);
    return 1;
  }
  if (r.lines === 0) {
    io.stdout.write(`no chained lines in ${files()} file${files() === 1 ? '' : 's'}: nothing to verify\n`);
    return 3;
  }
  if (!r.last || !r.first) {
    io.stdout.write(`NOT SEALED: ${r.lines} chained lines and no seal made with this key (${fingerprint(v)}): sealing was never on for them, or every seal was removed\n`);
    return 1;
  }
  io.stdout.write(report(r as Report, v, now));
  return 0;
}

type Report = Extract<Sealed, { seals: number }> & { first: LastSeal; last: LastSeal };

/** What holds, and, plainly, what it does not prove. */
function report(r: Report, v: VerificationKey, now: number): string {
  const from = r.anchor === GENESIS ? 'from the first line ever' : `anchored at prev ${r.anchor} (older files are not here; --genesis insists on them)`;
  const owed = r.last.final ? r.last.epoch + 1 : r.last.epoch;
  const missing = epochAt(v, now) - owed;
  const lines = [
    `OK: ${r.lines - r.unsealed} lines sealed in ${r.seals} seals, epochs ${r.first.epoch} to ${r.last.epoch}, ${from}: none altered, inserted, removed or reordered, no epoch missing, none sealed with a newer key.`,
    r.unsealed
      ? `NOT PROVEN: the ${r.unsealed} line${r.unsealed === 1 ? '' : 's'} after the last seal (from ${r.unsealedFrom}): whoever is root on the box can still change or remove them, until the next seal.`
      : 'The last line is a seal.',
    `NOT PROVEN: what came after the last seal (${r.last.where}, made ${r.last.time}, ${ago(now - Date.parse(r.last.time))} ago)` +
      (missing > 0
        ? `: ${missing} epoch${missing === 1 ? ' has' : 's have'} ended since without a seal here. If the service ran meanwhile, seals and lines were removed from the end (or it is down: its next start seals them).`
        : ': the seal of the epoch in progress is not due yet.'),
    'NOT PROVEN: a trail deleted whole, or cut back to an older seal, shows nothing here: only a copy of the seals kept off the box (the shipper\'s) reveals it.',
  ];
  return lines.join('\n') + '\n';
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return s < 172800 ? `${Math.round(s / 3600)} h` : `${Math.round(s / 86400)} days`;
}
