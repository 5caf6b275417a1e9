/**
 * Query filters: what the user asked for, and the exact predicate on the parsed line. What they
 * say about a line's raw bytes, before any parse, is src/trail/prefilter.ts.
 */
import type { TrailLine } from './shape.js';

export interface Filters {
  member?: string;
  group?: string;
  operator?: string;
  exitType?: string;
  app?: string;
  id?: string;
  /** ISO-8601 UTC with ms, inclusive. */
  since?: string;
  /** ISO-8601 UTC with ms, exclusive. */
  until?: string;
  /** On `receivedAt` (when the service got the callback), inclusive. */
  receivedSince?: string;
  /** On `receivedAt`, exclusive. */
  receivedUntil?: string;
}

/** Whether the parsed line `l` passes every filter in `f` (a line with no member, a Community's dismissal, matches no `member`). */
export function matches(f: Filters, l: TrailLine): boolean {
  return (
    (f.member === undefined || l.member === f.member) &&
    (f.group === undefined || l.groupId === f.group) &&
    (f.operator === undefined || l.operator === f.operator) &&
    (f.exitType === undefined || l.exitType === f.exitType) &&
    (f.app === undefined || l.sdkAppId === f.app) &&
    (f.id === undefined || l.id === f.id) &&
    (f.since === undefined || l.time >= f.since) &&
    (f.until === undefined || l.time < f.until) &&
    (f.receivedSince === undefined || l.receivedAt >= f.receivedSince) &&
    (f.receivedUntil === undefined || l.receivedAt < f.receivedUntil)
  );
}
