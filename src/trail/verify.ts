/**
 * `member-exit-audit verify`: walk the hash chain (`prev`) across the current and rotated files in
 * order. Exit 0 with the line count when every line's `prev` is the hash of the line before; exit 1
 * at the first file and line where a line was removed, inserted, reordered or altered. With
 * `--verify-key`, the seals too (src/trail/seals.ts). Several instances on one VM keep a trail
 * each, with a chain each: each is verified on its own.
 */
import { GENESIS, lineHash } from '../audit/chain.js';
import { parseOptions, seeHelp, UsageError } from '../options.js';
import { sourcesOf, unreadable } from './files.js';
import { UnreadableFile } from './open.js';
import { MAX_LINE, type Line } from './reader.js';
import { trailLines, type Source } from './scan.js';
import { visible } from '../visible.js';

export const VERIFY_HELP = `Usage: member-exit-audit verify [options] [FILE... | -]

Check the tamper-evidence chain (config audit.chain: true) across the audit file and its rotated
siblings, oldest first, regular files only (and, apart, every instance's trail in a folder beside
it), or across the FILEs given, in the order given, each a regular file; plain or gzip; - reads
stdin.

  --genesis        also require the first line to be the first line ever (prev = 64 zeros),
                   and no unchained line before it: use it when retention deleted no file
  --verify-key K   also check the seals with the verification key setup-keys printed: no
                   sealed line altered, removed or reordered, no epoch missing
  --config FILE    config file naming the audit file
  -h, --help       this help

Exit status: 0 the chain is intact, 1 it is broken (the first break is printed) or, with
--verify-key, not sealed, 2 usage error or a FILE that cannot be read, 3 nothing to verify: no
line carries "prev" (audit.chain is off, or was never on for these files).
`;

/** Exit status when the files hold lines but none is chained: not tampering, nothing to check. */
export const NO_CHAIN = 3;

type Io = { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream };

const OPTIONS = {
  genesis: { type: 'boolean', default: false },
  'verify-key': { type: 'string' },
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** `verify ARGV`, printing to `io`; resolves to the exit status. */
export async function verify(argv: string[], io: Io = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const fail = (message: string) => (io.stderr.write(`member-exit-audit verify: ${message}\n`), 2);
  let genesis: boolean;
  let key: string | undefined;
  let sources: Source[];
  try {
    const { values, positionals } = parseOptions(argv, OPTIONS, true);
    if (values.help) {
      io.stdout.write(VERIFY_HELP);
      return 0;
    }
    genesis = values.genesis;
    key = values['verify-key'];
    sources = await sourcesOf(positionals, values.config);
  } catch (err) {
    return fail(err instanceof UsageError && err.seeHelp ? `${err.message}\n${seeHelp('verify')}` : (err as Error).message);
  }
  const trails = new Map<string, Source[]>();
  for (const s of sources) trails.set(s.group ?? '', [...(trails.get(s.group ?? '') ?? []), s]);
  const statuses: number[] = [];
  for (const [group, own] of trails) {
    // With several trails, each result names its trail.
    const out = trails.size > 1 ? { stdout: prefixed(io.stdout, `${visible(group)}: `), stderr: io.stderr } : io;
    statuses.push(await verifyTrail(own, genesis, key, out, fail));
  }
  if (statuses.includes(2)) return 2;
  if (statuses.includes(1)) return 1;
  return statuses.every((s) => s === NO_CHAIN) ? NO_CHAIN : 0;
}

/** A stream that starts every line written to it with `prefix`. */
function prefixed(stream: NodeJS.WritableStream, prefix: string): NodeJS.WritableStream {
  return { write: (text: string) => stream.write(text.replace(/^(?=.)/gm, prefix)) } as NodeJS.WritableStream;
}

/** One trail: its chain (and, with `key`, its seals). */
async function verifyTrail(sources: Source[], genesis: boolean, key: string | undefined, io: Io, fail: (message: string) => number): Promise<number> {
  // A planted symlink or FIFO is not the trail: passed over, and if it stood for chained lines the break shows.
  let files = sources.length;
  const warn = (message: string) => (io.stderr.write(`member-exit-audit verify: ${message}\n`), files--);
  const lines = trailLines(sources, {}, warn);
  try {
    if (key !== undefined) return await (await import('./seals.js')).verifySealed(lines, () => files, key, genesis, io);
    const result = await walk(lines, genesis);
    if ('broken' in result) {
      io.stdout.write(`BROKEN at ${result.broken}\n`);
      return 1;
    }
    if (result.lines === 0) {
      io.stdout.write(`no chained lines: audit.chain is off (no line in ${files} file${files === 1 ? '' : 's'} carries "prev"); nothing to verify\n`);
      return NO_CHAIN;
    }
    const from = result.anchor === GENESIS ? 'from the first line ever' : `anchored at prev ${result.anchor} (older lines are not in these files)`;
    io.stdout.write(`OK: ${result.lines} chained lines in ${files} file${files === 1 ? '' : 's'}, ${from}; last line hash ${result.last}\n`);
    return 0;
  } catch (err) {
    if (err instanceof UnreadableFile) return fail(unreadable(err).message);
    throw err;
  }
}

type Walked = { broken: string } | { lines: number; anchor: string | null; last: string | null };

/** The chain over `lines`: where it first breaks (`FILE:LINE: why`), or how many lines it holds. */
async function walk(lines: AsyncIterable<Line>, genesis: boolean): Promise<Walked> {
  const broken = (where: string, why: string) => ({ broken: `${where}: ${why}` });
  let prevHash: string | null = null;
  let prevWhere = '';
  let count = 0;
  let anchor: string | null = null;
  for await (const line of lines) {
    const file = line.file;
    const where = `${visible(file)}:${line.lineNo}`;
    if (line.tooLong) return broken(where, `a line longer than ${MAX_LINE} bytes: not written by this service`);
    let prev: unknown;
    try {
      prev = (JSON.parse(line.bytes.toString('utf8')) as { prev?: unknown }).prev;
    } catch {
      return broken(where, 'not a JSON line (altered or torn)');
    }
    if (prevHash === null && prev === undefined) {
      // Written before the chain was turned on, or put there: --genesis accepts no such line.
      if (genesis) return broken(where, 'a line without "prev" before the first chained line (--genesis): lines written before audit.chain was on, or prepended');
      continue;
    }
    if (typeof prev !== 'string' || !/^[0-9a-f]{64}$/.test(prev)) return broken(where, 'no valid "prev" field (a line inserted or altered)');
    if (prevHash === null) {
      anchor = prev;
      if (genesis && prev !== GENESIS) return broken(where, 'the first line is not the first line ever (--genesis): earlier lines or files are missing');
    } else if (prev !== prevHash) {
      const at = line.lineNo === 1 && prevWhere && !prevWhere.startsWith(`${file}:`) ? ` (the first line of ${file}; the chain ended at ${prevWhere}: a file or lines between them are missing or altered)` : '';
      return broken(where, `"prev" is not the hash of the line before: a line was removed, inserted or reordered here, or the line before was altered${at}`);
    }
    prevHash = lineHash(line.bytes);
    prevWhere = where;
    count++;
  }
  return { lines: count, anchor, last: prevHash };
}
