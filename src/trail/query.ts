/**
 * `member-exit-audit query`: filter the audit trail across the current and rotated files (plain
 * or gzip), or the files given, or stdin, streaming in constant memory. Exit 0 when something
 * matched, 1 when nothing did (like grep), 2 on a usage error or a file that cannot be read.
 */
import { parseOptions, seeHelp, UsageError } from '../options.js';
import type { Filters } from './filter.js';
import { sourcesOf, unreadable } from './files.js';
import { csvHeader, csvRow, table, type Format } from './format.js';
import { UnreadableFile } from './open.js';
import { Output } from './output.js';
import { eachMatch, type Match, type Source } from './scan.js';
import type { TrailLine } from './shape.js';
import { parseTime } from './time.js';

/** Bad lines reported one by one before the rest are only counted. */
const SHOW_SKIPPED = 10;

export const QUERY_HELP = `Usage: member-exit-audit query [options] [FILE... | -]

Print the audit lines that match every filter given, oldest first. Without FILE, reads the
configured audit file (--config, MEMBER_EXIT_AUDIT_CONFIG, AUDIT_FILE) and its rotated siblings
(.1, .2.gz, -20261126, -20261126.gz, ...), regular files only; FILEs may be plain or gzip, and
must be regular files; - reads stdin (a pipe: - < FIFO).

Filters (exact match; combine freely):
  --member ACCOUNT      the member who left
  --group GROUPID       the group
  --operator ACCOUNT    who kicked (Kicked) or the member itself (Quit)
  --exit-type TYPE      Kicked, Quit, or Destroyed (the group was dismissed)
  --app SDKAPPID        the app
  --id ID               one line by its id
  --since TIME          the event (time) at or after TIME: ISO-8601 (2026-11-01,
                        2026-11-01T08:00:00Z) or 90s, 30m, 12h, 7d, 2w before now
  --until TIME          the event before TIME (same forms)
  --received-since TIME arrived at this service (receivedAt) at or after TIME (same forms)
  --received-until TIME arrived before TIME (same forms)

Output:
  --format FORMAT       ndjson (default: the lines as written), table, csv
  --local               table: times in the local time zone
  --count               print only the number of matching lines
  --config FILE         config file naming the audit file
  -h, --help            this help

Exit status: 0 lines matched, 1 none matched, 2 usage error or a FILE that cannot be read.
Malformed lines, lines longer than 1 MiB and foreign lines (JSON that is not an audit line) are
skipped: the first 10 are reported on stderr with file and line number, the rest counted in one
line at the end.
`;

const OPTIONS = {
  member: { type: 'string' },
  group: { type: 'string' },
  operator: { type: 'string' },
  'exit-type': { type: 'string' },
  app: { type: 'string' },
  id: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  'received-since': { type: 'string' },
  'received-until': { type: 'string' },
  format: { type: 'string', default: 'ndjson' },
  local: { type: 'boolean', default: false },
  count: { type: 'boolean', default: false },
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type Io = { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream };

/** What the command line asks for. */
interface Request {
  filters: Filters;
  sources: Source[];
  format: Format;
  local: boolean;
  count: boolean;
}

const time = (text: string | undefined) => (text === undefined ? undefined : parseTime(text));

/** The command line read, or a UsageError; null for --help. */
async function request(argv: string[]): Promise<Request | null> {
  const { values: v, positionals } = parseOptions(argv, OPTIONS, true);
  if (v.help) return null;
  const format = v.format as Format;
  if (!['ndjson', 'table', 'csv'].includes(format)) throw new UsageError(`--format must be ndjson, table or csv, not ${format}`);
  if (v['exit-type'] !== undefined && !['Kicked', 'Quit', 'Destroyed'].includes(v['exit-type'])) throw new UsageError('--exit-type must be Kicked, Quit or Destroyed');
  const filters = {
    member: v.member,
    group: v.group,
    operator: v.operator,
    exitType: v['exit-type'],
    app: v.app,
    id: v.id,
    since: time(v.since),
    until: time(v.until),
    receivedSince: time(v['received-since']),
    receivedUntil: time(v['received-until']),
  };
  return { filters, sources: await sourcesOf(positionals, v.config), format, local: v.local, count: v.count };
}

/** `query ARGV`, printing to `io`; resolves to the exit status. */
export async function query(argv: string[], io: Io = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const fail = (message: string) => (io.stderr.write(`member-exit-audit query: ${message}\n`), 2);
  let req: Request | null;
  try {
    req = await request(argv);
  } catch (err) {
    // A UsageError, or the config's own refusal (ConfigError: query loads config.ts only when needed).
    return fail(err instanceof UsageError && err.seeHelp ? `${err.message}\n${seeHelp('query')}` : (err as Error).message);
  }
  if (!req) {
    io.stdout.write(QUERY_HELP);
    return 0;
  }
  return run(req, io, fail);
}

/** Print what `req` asks for; resolves to the exit status. */
async function run(req: Request, io: Io, fail: (message: string) => number): Promise<number> {
  const out = new Output(io.stdout as never);
  // A flood of bad lines (a gzip of newlines) is a count, not one stderr line each.
  let skipped = 0;
  const skip = (where: string, why: string) => {
    if (++skipped <= SHOW_SKIPPED) io.stderr.write(`${where}: ${why}\n`);
  };
  const warn = (message: string) => io.stderr.write(`member-exit-audit query: ${message}\n`);
  const kept: TrailLine[] = [];
  let count = 0;
  /** Print one match as it comes (a table waits for all); false once the reader has gone (`| head`). */
  const print = async ({ raw, line }: Match): Promise<boolean> => {
    if (req.format === 'ndjson') {
      await out.write(raw.bytes);
      await out.write('\n');
    } else await out.write(csvRow(line));
    return !out.closed;
  };
  if (req.format === 'csv' && !req.count) await out.write(csvHeader());
  try {
    await eachMatch(req.sources, req.filters, { skip, warn }, (m) => {
      count++;
      if (req.count) return true;
      if (req.format !== 'table') return print(m);
      kept.push(m.line);
      return true;
    });
  } catch (err) {
    if (err instanceof UnreadableFile) return (await out.flush(), fail(unreadable(err).message));
    throw err;
  }
  if (out.closed) return 0;
  if (skipped > SHOW_SKIPPED) warn(`${skipped - SHOW_SKIPPED} more malformed, foreign or too long lines skipped (${skipped} in all)`);
  if (req.count) await out.write(`${count}\n`);
  else if (req.format === 'table' && count) await out.write(table(kept, req.local));
  await out.flush();
  return count > 0 ? 0 : 1;
}
