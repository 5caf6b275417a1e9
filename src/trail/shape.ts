/**
 * Which parsed lines `query` shows (issue #23 item 5: one valid JSON line without `member` made
 * `--format table` throw a TypeError and print nothing). A line of a known event with every field
 * it needs is an audit line; a sealing line (`"event":"seal"`) is part of the trail but no exit,
 * and is passed over in silence; anything else is foreign, and reported like a malformed line.
 */
import { visible } from '../visible.js';

/** An audit line as `query` reads it: what it filters on and shows. */
export interface TrailLine {
  time: string;
  event: string;
  sdkAppId: string;
  groupId: string;
  groupType: string;
  exitType: string;
  /** Null when Tencent does not say who did it (a dismissal). */
  operator: string | null;
  /** Null on the one line of a Community's dismissal: Tencent sends no member list for those. */
  member: string | null;
  eventTime: number | null;
  receivedAt: string;
  clientIp: string | null;
  optPlatform: string | null;
  id: string;
}

/**
 * The fields of a `group.member.exit` line that `query` filters on and shows, with their JSON
 * types. Only these are checked: new keys may follow in a later version (docs/audit-line.md).
 */
const EXIT_FIELDS: [keyof TrailLine, 'string' | 'number', 'or null'?][] = [
  ['time', 'string'],
  ['sdkAppId', 'string'],
  ['groupId', 'string'],
  ['groupType', 'string'],
  ['exitType', 'string'],
  ['operator', 'string', 'or null'],
  ['member', 'string', 'or null'],
  ['eventTime', 'number', 'or null'],
  ['receivedAt', 'string'],
  ['clientIp', 'string', 'or null'],
  ['optPlatform', 'string', 'or null'],
  ['id', 'string'],
];

/** The line seals the trail (written by the service's sealing): not an exit, not foreign. */
export const SEAL = 'seal';

/** What a parsed line is: an audit line, a sealing line, or foreign (and then why, in a few words). */
export type Judged = { line: TrailLine } | { seal: true } | { foreign: string };

/** Longest piece of a foreign `event` value quoted in the warning. */
const QUOTE_CHARS = 40;

/** What the parsed line `v` is; the reason for a foreign one is a few words, safe to print. */
export function judge(v: unknown): Judged {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { foreign: 'not a JSON object' };
  const o = v as Record<string, unknown>;
  if (o.event === SEAL) return { seal: true };
  if (o.event !== 'group.member.exit') return { foreign: o.event === undefined ? 'no "event"' : `unknown event ${visible(JSON.stringify(o.event).slice(0, QUOTE_CHARS))}` };
  for (const [key, type, orNull] of EXIT_FIELDS) {
    const value = o[key];
    if (typeof value === type || (orNull && value === null)) continue;
    return { foreign: value === undefined ? `no "${key}"` : `"${key}" is not a ${type}${orNull ? ' or null' : ''}` };
  }
  return { line: o as unknown as TrailLine };
}
