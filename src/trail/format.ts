/** Output of `query`: NDJSON (the lines as written), an aligned table for people, or CSV. */
import type { TrailLine } from './shape.js';
import { visible } from '../visible.js';

export type Format = 'ndjson' | 'table' | 'csv';

export const CSV_COLUMNS = ['time', 'event', 'sdkAppId', 'groupId', 'groupType', 'exitType', 'operator', 'member', 'eventTime', 'receivedAt', 'clientIp', 'optPlatform', 'id'] as const;

/**
 * Cells a spreadsheet would run as a formula (OWASP CSV injection: = + - @, TAB, CR), and `'`
 * itself, so the rule can be undone. TAB and CR are escaped visibly before this is asked.
 */
const FORMULA = /^[=+\-@']/;

/**
 * One CSV cell (RFC 4180), safe to open in a spreadsheet and still exact (docs/investigating.md):
 * every control and bidi/format character (TAB and CR among them) is shown as `\u202e` (a
 * backslash doubled), and a cell starting with `= + - @` or `'` gets one leading `'` (OWASP), which spreadsheets show as
 * a text marker: `@TGS#2J4SZEAEL` and `-42` stay readable. To get the value back: drop one leading
 * `'`, then undo the backslash escapes.
 */
export function csvCell(v: unknown): string {
  let s = v === null || v === undefined ? '' : visible(String(v));
  if (FORMULA.test(s)) s = `'${s}`;
  return /[",]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The CSV header row: every key of the line, in its order. */
export function csvHeader(): string {
  return CSV_COLUMNS.join(',') + '\n';
}

/** One line as a CSV row; null (no operator, no member) is an empty cell. */
export function csvRow(l: TrailLine): string {
  return CSV_COLUMNS.map((c) => csvCell(l[c])).join(',') + '\n';
}

/** ISO-8601 in the machine's local time zone, with its offset: 2022-12-09 16:26:54.123 +08:00. */
export function localTime(iso: string): string {
  const d = new Date(iso);
  const off = -d.getTimezoneOffset();
  const p = (n: number, w = 2) => String(Math.abs(n)).padStart(w, '0');
  return (
    `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)} ` +
    `${off < 0 ? '-' : '+'}${p(Math.trunc(off / 60))}:${p(off % 60)}`
  );
}

const TABLE_COLUMNS: [string, (l: TrailLine, local: boolean) => string][] = [
  ['TIME', (l, local) => (local ? localTime(l.time) : l.time)],
  ['APP', (l) => l.sdkAppId],
  ['GROUP', (l) => l.groupId],
  ['EXIT', (l) => l.exitType],
  // `-` for null: no operator (a dismissal), no member (a Community's dismissal, one line for the group).
  ['OPERATOR', (l) => l.operator ?? '-'],
  ['MEMBER', (l) => l.member ?? '-'],
];

/** The lines as an aligned table for a terminal, every cell shown visibly (src/visible.ts). */
export function table(lines: TrailLine[], local: boolean): string {
  const rows = lines.map((l) => TABLE_COLUMNS.map(([, get]) => visible(get(l, local))));
  const head = TABLE_COLUMNS.map(([h]) => h);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ') + '\n';
  return fmt(head) + rows.map(fmt).join('');
}
