/**
 * The times `--since`, `--until`, `--received-since` and `--received-until` take: ISO-8601, or a
 * number with a unit before now. A bare number is refused: Date.parse read `--since 7` as
 * 2001-07-01 and the query went on (issue #22 item 6).
 */
import { UsageError } from '../options.js';

const UNITS: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 };
const RELATIVE = /^(\d+)([smhdw])$/;
/** A date, optionally a time (minutes, seconds, fractions) and an offset; nothing Date.parse merely tolerates. */
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

const ISO_FORMS = 'an ISO-8601 date or time like 2026-11-26, 2026-11-26T08:00:00Z or 2026-11-26T16:00+08:00';

/**
 * `text` as ISO-8601 UTC with ms, the form the audit line's `time` and `receivedAt` take, so the
 * two compare as strings. A date alone is midnight UTC; a date and time without an offset is local
 * time (as ECMAScript reads ISO-8601). Throws UsageError saying what is accepted.
 */
export function parseTime(text: string, now = Date.now()): string {
  const rel = RELATIVE.exec(text);
  if (rel) {
    const at = new Date(now - Number(rel[1]) * UNITS[rel[2]!]!);
    if (Number.isNaN(at.getTime())) throw new UsageError(`not a time: ${text} (further back than a date can be)`);
    return at.toISOString();
  }
  if (/^\d+$/.test(text)) throw new UsageError(`not a time: ${text} (a number needs a unit: ${text}s, ${text}m, ${text}h, ${text}d or ${text}w before now; or give ${ISO_FORMS})`);
  const iso = ISO.exec(text);
  const ms = iso && isCalendarDate(iso) ? Date.parse(text) : NaN;
  if (Number.isNaN(ms)) throw new UsageError(`not a time: ${text} (give ${ISO_FORMS}, or a number with a unit before now: 90s, 30m, 12h, 7d, 2w)`);
  return new Date(ms).toISOString();
}

/** Date.parse turns 2026-02-30 into March 2nd: a day, hour, minute or second out of range is refused. */
function isCalendarDate(m: RegExpExecArray): boolean {
  const [year, month, day, hour = 0, minute = 0, second = 0] = m.slice(1, 7).map((s) => (s === undefined ? undefined : Number(s)));
  const days = new Date(Date.UTC(year!, month!, 0)).getUTCDate();
  return month! >= 1 && month! <= 12 && day! >= 1 && day! <= days && hour! <= 23 && minute! <= 59 && second! <= 59;
}
