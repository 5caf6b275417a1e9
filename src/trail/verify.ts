/**
 * `member-exit-audit verify`: walk the hash chain (`prev`) across the current and rotated files in
 * order. Exit 0 with the line count when every line's `prev` is the hash of the line before; exit 1
 * at the first file and line where a line was removed, inserted, reordered or altered.
 */
import { parseArgs } from 'node:util';
import { GENESIS, lineHash } from '../audit/chain.js';
import { configuredTrail } from './files.js';
import { MAX_LINE, readLines } from './reader.js';
import { visible } from '../visible.js';

export const VERIFY_HELP = `Usage: member-exit-audit verify [options] [FILE...]

Check the tamper-evidence chain (config audit.chain: true) across the audit file and its rotated
siblings, oldest first (or across the FILEs given, in the order given; plain or gzip).

  --genesis        also require the first line to be the first line ever (prev = 64 zeros),
                   and no unchained line before it: use it when retention deleted no file
  --verify-key K   also check the seals with the verification key setup-keys printed: no
                   sealed line altered, removed or reordered, no epoch missing
  --config FILE    config file naming the audit file
  -h, --help       this help

Exit status: 0 the chain is intact, 1 it is broken (the first break is printed), 2 usage error,
3 nothing to verify: no line carries "prev" (audit.chain is off, or was never on for these files).
`;

/** Exit status when the files hold lines but none is chained: not tampering, nothing to check. */
export const NO_CHAIN = 3;

type Io = { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream };

export async function verify(argv: string[], io: Io = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { genesis: { type: 'boolean', default: false }, 'verify-key': { type: 'string' }, config: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } },
    });
  } catch (err) {
    io.stderr.write(`member-exit-audit verify: ${(err as Error).message}\n\n${VERIFY_HELP}`);
    return 2;
  }
  if (args.values.help) {
    io.stdout.write(VERIFY_HELP);
    return 0;
  }
  let files: string[];
  try {
    files = args.positionals.length ? args.positionals : await configuredTrail(args.values.config);
  } catch (err) {
    io.stderr.write(`member-exit-audit verify: ${(err as Error).message}\n`);
    return 2;
  }
  if (!files.length) {
    io.stderr.write('member-exit-audit verify: no audit file found\n');
    return 2;
  }

  const verifyKey = args.values['verify-key'];
  if (verifyKey !== undefined) return (await import('./seals.js')).verifySealed(files, verifyKey, args.values.genesis, io);

  const broken = (where: string, why: string) => {
    io.stdout.write(`BROKEN at ${where}: ${why}\n`);
    return 1;
  };
  let prevHash: string | null = null;
  let prevWhere = '';
  let lines = 0;
  let anchor: string | null = null;
  try {
    for (const file of files) {
      for await (const line of readLines(file, file)) {
        const where = `${visible(file)}:${line.lineNo}`;
        if (line.tooLong) return broken(where, `a line longer than ${MAX_LINE} bytes: not written by this service`);
        const text = line.bytes.toString('utf8');
        let prev: unknown;
        try {
          prev = (JSON.parse(text) as { prev?: unknown }).prev;
        } catch {
          return broken(where, 'not a JSON line (altered or torn)');
        }
        if (prevHash === null && prev === undefined) {
          // Written before the chain was turned on, or put there: --genesis accepts no such line.
          if (args.values.genesis) return broken(where, 'a line without "prev" before the first chained line (--genesis): lines written before audit.chain was on, or prepended');
          continue;
        }
        if (typeof prev !== 'string' || !/^[0-9a-f]{64}$/.test(prev)) return broken(where, 'no valid "prev" field (a line inserted or altered)');
        if (prevHash === null) {
          anchor = prev;
          if (args.values.genesis && prev !== GENESIS) return broken(where, 'the first line is not the first line ever (--genesis): earlier lines or files are missing');
        } else if (prev !== prevHash) {
          const at = line.lineNo === 1 && prevWhere && !prevWhere.startsWith(`${file}:`) ? ` (the first line of ${file}; the chain ended at ${prevWhere}: a file or lines between them are missing or altered)` : '';
          return broken(where, `"prev" is not the hash of the line before: a line was removed, inserted or reordered here, or the line before was altered${at}`);
        }
        prevHash = lineHash(line.bytes);
        prevWhere = where;
        lines++;
      }
    }
  } catch (err) {
    io.stderr.write(`member-exit-audit verify: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`);
    return 2;
  }
  if (lines === 0) {
    io.stdout.write(`no chained lines: audit.chain is off (no line in ${files.length} file${files.length === 1 ? '' : 's'} carries "prev"); nothing to verify\n`);
    return NO_CHAIN;
  }
  const from = anchor === GENESIS ? 'from the first line ever' : `anchored at prev ${anchor} (older lines are not in these files)`;
  io.stdout.write(`OK: ${lines} chained lines in ${files.length} files, ${from}; last line hash ${prevHash}\n`);
  return 0;
}
