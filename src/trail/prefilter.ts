/**
 * What the filters say about a line's raw bytes, so that a line that cannot match is never
 * JSON.parsed (issue #22 item 8: `--since` took ten times as long as `--member`). Every judgement
 * is exact for lines as the service writes them (keys in their order, each string escaped one way:
 * src/audit/json.ts) and only ever says "cannot match" when the parsed line would not match
 * either: a line in another shape is kept, and src/trail/filter.ts `matches` decides.
 */
import { str } from '../audit/json.js';
import type { Filters } from './filter.js';
import type { Select } from './reader.js';

type Test = (buf: Buffer, start: number, end: number) => boolean;

/**
 * The exact bytes each exact-match filter needs in a line (`"member":"jared",`, escaped as the line
 * writes it), the most selective first: an id names one line, an exit type a third of them.
 */
export function needlesOf(f: Filters): Buffer[] {
  const needles: (string | false)[] = [
    f.id !== undefined && `"id":${str(f.id)}`,
    f.member !== undefined && `"member":${str(f.member)},`,
    f.operator !== undefined && `"operator":${str(f.operator)},`,
    f.group !== undefined && `"groupId":${str(f.group)},`,
    f.app !== undefined && `"sdkAppId":${str(f.app)},`,
    f.exitType !== undefined && `"exitType":${str(f.exitType)},`,
  ];
  return needles.filter((n): n is string => n !== false).map((n) => Buffer.from(n));
}

/**
 * The line selection for `f`: the most selective needle searched over whole chunks, then, per
 * line it finds (or per line, with no needle), the other needles and the time ranges.
 */
export function selectOf(f: Filters): Select {
  const [needle, ...others] = needlesOf(f);
  const tests: Test[] = others.map((n) => (buf, start, end) => buf.subarray(start, end).includes(n));
  if (f.since !== undefined || f.until !== undefined) tests.push(timeTest(f.since, f.until));
  if (f.receivedSince !== undefined || f.receivedUntil !== undefined) tests.push(receivedTest(f.receivedSince, f.receivedUntil));
  return { needle, keep: tests.length === 0 ? undefined : tests.length === 1 ? tests[0] : (buf, start, end) => tests.every((t) => t(buf, start, end)) };
}

/** Every line the service writes starts so: `time` is the first key, 24 characters of ISO-8601. */
const TIME_AT = Buffer.from('{"time":"');
const RECEIVED_AT = Buffer.from('"receivedAt":"');
/** Length of `2022-12-09T08:26:54.123Z`, the only form `time` and `receivedAt` take. */
const ISO_LENGTH = 24;

/** `--since`/`--until` on the line's first field, compared as bytes where it is in the written form. */
function timeTest(since: string | undefined, until: string | undefined): Test {
  const inRange = rangeTest(since, until);
  return (buf, start, end) => {
    const at = start + TIME_AT.length;
    if (end - start < TIME_AT.length + ISO_LENGTH + 1 || buf.compare(TIME_AT, 0, TIME_AT.length, start, at) !== 0) return true;
    return inRange(buf, at, end);
  };
}

/** `--received-since`/`--received-until` on `receivedAt`, found by its key (its last, as JSON.parse keeps the last). */
function receivedTest(since: string | undefined, until: string | undefined): Test {
  const inRange = rangeTest(since, until);
  return (buf, start, end) => {
    const hit = buf.subarray(start, end).lastIndexOf(RECEIVED_AT);
    return hit === -1 || inRange(buf, start + hit + RECEIVED_AT.length, end);
  };
}

/**
 * Is the ISO-8601 string value at `at` within [since, until)? Compared as bytes, which for ASCII
 * is the order `matches` compares the parsed strings in. A value not in the written form (an
 * escape, another length) is kept: the parsed line decides.
 */
function rangeTest(since: string | undefined, until: string | undefined): Test {
  const low = since === undefined ? undefined : Buffer.from(since);
  const high = until === undefined ? undefined : Buffer.from(until);
  return (buf, at, end) => {
    if (at + ISO_LENGTH >= end || buf[at + ISO_LENGTH] !== 0x22 || !isIsoMs(buf, at)) return true;
    return (!low || buf.compare(low, 0, low.length, at, at + ISO_LENGTH) >= 0) && (!high || buf.compare(high, 0, high.length, at, at + ISO_LENGTH) < 0);
  };
}

/** `0000-00-00T00:00:00.000Z`: a digit where the pattern has 0, the pattern's byte elsewhere. */
const PATTERN = Buffer.from('0000-00-00T00:00:00.000Z');

function isIsoMs(buf: Buffer, at: number): boolean {
  for (let i = 0; i < ISO_LENGTH; i++) {
    const c = buf[at + i]!;
    const p = PATTERN[i]!;
    if (p === 0x30 ? c < 0x30 || c > 0x39 : c !== p) return false;
  }
  return true;
}
