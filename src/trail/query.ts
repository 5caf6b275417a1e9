/**
 * `member-exit-audit query`: filter the audit trail across the current and rotated files (plain
 * or gzip), or the files given, or stdin, streaming in constant memory. Exit 0 when something
 * matched, 1 when nothing did (like grep), 2 on a usage error.
 */
import type { AuditLine } from '../audit/line.js';
import { parseOptions, seeHelp, UsageError } from '../options.js';
import { matches, needleOf, type Filters } from './filter.js';
import { csvHeader, csvRow, table, type Format } from './format.js';
import { Output } from './output.js';
import { MAX_LINE, readLines } from './reader.js';
import { visible } from '../visible.js';
import { parseTime } from './time.js';

/** Bad lines reported one by one before the rest are only counted. */
const SHOW_SKIPPED = 10;
import { configuredTrail } from './files.js';

export const QUERY_HELP = `Usage: member-exit-audit query [options] [FILE... | -]

Print the audit lines that match every filter given, oldest first. Without FILE, reads the
configured audit file (--config, MEMBER_EXIT_AUDIT_CONFIG, AUDIT_FILE) and its rotated siblings
(.1, .2.gz, -20261126, -20261126.gz, ...); FILEs may be plain or gzip; - reads stdin.

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

Exit status: 0 lines matched, 1 none matched, 2 usage error. Malformed lines, and lines longer
than 1 MiB, are skipped: the first 10 are reported on stderr with file and line number, the rest
counted in one line at the end.
`;

export async function query(argv: string[], io = { stdout: process.stdout as NodeJS.WritableStream, stderr: process.stderr as NodeJS.WritableStream }): Promise<number> {
  let args;
  try {
    args = parseOptions(
      argv,
      {
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
      },
      true,
    );
  } catch (err) {
    io.stderr.write(`member-exit-audit query: ${(err as Error).message}\n${seeHelp('query')}\n`);
    return 2;
  }
  const v = args.values;
  if (v.help) {
    io.stdout.write(QUERY_HELP);
    return 0;
  }
  let filters: Filters;
  let sources: string[];
  try {
    const format = v.format as Format;
    if (!['ndjson', 'table', 'csv'].includes(format)) throw new UsageError(`--format must be ndjson, table or csv, not ${format}`);
    if (v['exit-type'] !== undefined && !['Kicked', 'Quit', 'Destroyed'].includes(v['exit-type'])) throw new UsageError('--exit-type must be Kicked, Quit or Destroyed');
    filters = {
      member: v.member,
      group: v.group,
      operator: v.operator,
      exitType: v['exit-type'],
      app: v.app,
      id: v.id,
      since: v.since === undefined ? undefined : parseTime(v.since),
      until: v.until === undefined ? undefined : parseTime(v.until),
      receivedSince: v['received-since'] === undefined ? undefined : parseTime(v['received-since']),
      receivedUntil: v['received-until'] === undefined ? undefined : parseTime(v['received-until']),
    };
    sources = args.positionals.length ? args.positionals : await configuredTrail(v.config);
    if (!sources.length) throw new UsageError('no audit file found (give FILEs, or --config)');
  } catch (err) {
    io.stderr.write(`member-exit-audit query: ${(err as Error).message}\n`);
    return 2;
  }

  const out = new Output(io.stdout as never);
  // A flood of bad lines (a gzip of newlines) is a count, not one stderr line each.
  let skipped = 0;
  const skip = (where: string, why: string) => {
    if (++skipped <= SHOW_SKIPPED) io.stderr.write(`${where}: ${why}\n`);
  };
  const format = v.format as Format;
  const needle = needleOf(filters);
  const kept: AuditLine[] = [];
  let count = 0;
  if (format === 'csv' && !v.count) await out.write(csvHeader());
  for (const source of sources) {
    const input = source === '-' ? process.stdin : source;
    try {
      for await (const line of readLines(input, source === '-' ? '(stdin)' : source, needle)) {
        if (line.tooLong) {
          skip(`${visible(line.file)}:${line.lineNo}`, `line longer than ${MAX_LINE} bytes skipped`);
          continue;
        }
        let parsed: AuditLine;
        try {
          parsed = JSON.parse(line.bytes.toString('utf8'));
          if (typeof parsed !== 'object' || parsed === null || typeof parsed.time !== 'string') throw new Error('not an audit line');
        } catch {
          skip(`${visible(line.file)}:${line.lineNo}`, 'malformed line skipped');
          continue;
        }
        if (!matches(filters, parsed)) continue;
        count++;
        if (v.count) continue;
        if (format === 'ndjson') {
          await out.write(line.bytes);
          await out.write('\n');
        } else if (format === 'csv') await out.write(csvRow(parsed));
        else kept.push(parsed);
        if (out.closed) return 0;
      }
    } catch (err) {
      io.stderr.write(`member-exit-audit query: ${source}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`);
      return 2;
    }
  }
  if (skipped > SHOW_SKIPPED) io.stderr.write(`member-exit-audit query: ${skipped - SHOW_SKIPPED} more malformed or too long lines skipped (${skipped} in all)\n`);
  if (v.count) await out.write(`${count}\n`);
  else if (format === 'table' && count) await out.write(table(kept, v.local));
  await out.flush();
  return count > 0 ? 0 : 1;
}
