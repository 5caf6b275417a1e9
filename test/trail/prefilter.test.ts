/**
 * The prefilter (src/trail/prefilter.ts, issue #22 item 8) judges lines on their raw bytes so that
 * a line that cannot match is never parsed. The proof that it changes nothing: over generated
 * trails (lines as the service writes them, with hostile strings in every field, a Community's
 * dismissal, sealing lines, foreign and torn lines), query with it finds exactly the lines query
 * without it finds.
 */
import { Readable } from 'node:stream';
import fc from 'fast-check';
import t from 'tap';
import { str } from '../../src/audit/json.js';
import { formatLines, type ExitType } from '../../src/audit/line.js';
import type { Filters } from '../../src/trail/filter.js';
import { eachMatch } from '../../src/trail/scan.js';

/** A line serialised as the service serialises one: keys in the order given, each string escaped by str(). */
const canonical = (o: Record<string, string | number | null>) =>
  '{' + Object.entries(o).map(([k, v]) => `${str(k)}:${typeof v === 'string' ? str(v) : String(v)}`).join(',') + '}';

// Values the filters ask for; strings that look like the bytes the prefilter searches for, and
// ones that escape awkwardly.
const asked = ['jared', 'leckie', '@TGS#1', '"member":"jared",'];
const tricky = [...asked, '"receivedAt":"2099-01-01T00:00:00.000Z"', '{"time":"2000-01-01T00:00:00.000Z"', '\\', '"', '\u2028', '\ud800', 'j\u0000red', ''];
const text = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...asked) }, fc.constantFrom(...tricky), { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) });
const T0 = Date.UTC(2022, 0, 1);
// Whole hours mostly, so that a line's time often equals a filter's bound (since inclusive, until exclusive).
const ms = fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 0, max: 40 }).map((h) => T0 + h * 3600e3) }, fc.integer({ min: T0, max: T0 + 1000 * 86400e3 }));
const iso = ms.map((m) => new Date(m).toISOString());
const exitType = fc.constantFrom<ExitType>('Kicked', 'Quit', 'Destroyed');

/** A member-exit line, built by the writer's own formatLines, sometimes chained. */
const writtenLine = fc
  .record({ sdkAppId: text, groupId: text, groupType: text, exitType, operator: fc.option(text), member: text, eventTime: fc.option(ms), receivedAt: ms, clientIp: fc.option(text), optPlatform: fc.option(text), chained: fc.boolean() })
  .map(({ member, chained, ...e }) => {
    const line = formatLines(e, [member]).text.slice(0, -1);
    return chained ? line.slice(0, -1) + `,"prev":"${'ab'.repeat(32)}"}` : line;
  });
/** A Community's dismissal: one line for the group, member null (written by hand, as the writer will). */
const communityLine = fc.record({ time: iso, groupId: text, receivedAt: iso, id: text }).map((l) =>
  canonical({ time: l.time, event: 'group.member.exit', sdkAppId: '1400000000', groupId: l.groupId, groupType: 'Community', exitType: 'Destroyed', operator: null, member: null, eventTime: null, receivedAt: l.receivedAt, clientIp: null, optPlatform: null, id: l.id }),
);
const sealLine = fc.record({ time: iso, n: fc.nat() }).map((l) => canonical({ time: l.time, event: 'seal', lines: l.n, receivedAt: l.time }));
/**
 * An audit line edited by hand or by another program: a time without milliseconds, or a digit
 * written as an escape (and then, without ms and Z, exactly as long as a written time). Still an
 * audit line, so the prefilter must keep it whenever it may match.
 */
const EDITS: Record<string, (d: string, rest: string, frac: string) => string> = {
  'no ms': (d, rest) => `${d}${rest}Z`,
  escaped: (d, rest, frac) => `\\u003${d}${rest}${frac}Z`,
  'escaped, 24 bytes': (d, rest) => `\\u003${d}${rest}`,
};
const editedLine = fc.record({ line: writtenLine, key: fc.constantFrom('time', 'receivedAt'), how: fc.constantFrom(...Object.keys(EDITS)) }).map(({ line, key, how }) =>
  line.replace(new RegExp(`"${key}":"(\\d)([^"]*?)(\\.\\d{3})Z"`), (_, d, rest, frac) => `"${key}":"${EDITS[how]!(d, rest, frac)}"`),
);
/** Not audit lines: foreign JSON (a time where a line has one, an unknown event), torn and random text. */
const otherLine = fc.oneof(
  fc.record({ time: iso, member: text, event: text }).map((l) => canonical(l)),
  fc.record({ time: iso, member: text }).map((l) => canonical({ time: l.time, event: 'group.member.exit', member: l.member })),
  writtenLine.chain((l) => fc.nat({ max: l.length }).map((n) => l.slice(0, n))),
  fc.string({ unit: 'binary', maxLength: 40 }).map((s) => s.replace(/\n/g, ' ')),
);
const trailText = fc
  .array(fc.oneof({ weight: 6, arbitrary: writtenLine }, editedLine, communityLine, sealLine, otherLine), { maxLength: 30 })
  .map((lines) => Buffer.from(lines.join('\n') + '\n'));

/** One to three filters, as a question asks: values the lines often hold, times across their range. */
const value = fc.constantFrom(...tricky);
const oneFilter: { [K in keyof Filters]-?: fc.Arbitrary<Filters[K]> } = {
  member: value, group: value, operator: value, app: value, exitType, id: value, since: iso, until: iso, receivedSince: iso, receivedUntil: iso,
};
const filters: fc.Arbitrary<Filters> = fc
  .uniqueArray(fc.constantFrom(...(Object.keys(oneFilter) as (keyof Filters)[])), { minLength: 1, maxLength: 3 })
  .chain((keys) => fc.record(Object.fromEntries(keys.map((k) => [k, oneFilter[k]]))) as fc.Arbitrary<Filters>);

/** What query finds in `data`, read in chunks of `chunk` bytes, with or without the prefilter. */
async function found(data: Buffer, f: Filters, chunk: number, prefilter: boolean) {
  const chunks = Array.from({ length: Math.ceil(data.length / chunk) }, (_, i) => data.subarray(i * chunk, (i + 1) * chunk));
  const skipped: string[] = [];
  const out: string[] = [];
  const opts = { prefilter, skip: (where: string, why: string) => skipped.push(`${where}: ${why}`), warn: () => {} };
  await eachMatch([{ name: 'x', input: Readable.from(chunks), trail: false }], f, opts, (m) => out.push(`${m.raw.lineNo}:${m.raw.bytes.toString('utf8')}`) > 0);
  return { out, skipped };
}

t.test('with the prefilter, query finds exactly what it finds without (fast-check)', async (t) => {
  let matched = 0;
  let rejected = 0;
  await fc.assert(
    fc.asyncProperty(trailText, filters, fc.integer({ min: 1, max: 4096 }), async (data, f, chunk) => {
      const plain = await found(data, f, chunk, false);
      const pre = await found(data, f, chunk, true);
      if (plain.out.length) matched++;
      if (plain.out.length < data.toString().split('\n').length - 1) rejected++;
      // A line the prefilter judged unmatchable is not reported: what it reports, the full scan does too.
      return JSON.stringify(pre.out) === JSON.stringify(plain.out) && pre.skipped.every((s) => plain.skipped.includes(s));
    }),
    { numRuns: 400 },
  );
  t.pass('400 generated trails and filters: the same lines, in the same order, with the same line numbers');
  // The proof is worth something only if lines are both found and turned away in many runs.
  t.ok(matched >= 40 && rejected >= 40, `runs with a match: ${matched}, with a line turned away: ${rejected}`);
});

const exit = (time: string, receivedAt: string, member = 'm') =>
  formatLines({ sdkAppId: '1', groupId: 'g', groupType: 'Public', exitType: 'Quit', operator: member, eventTime: Date.parse(time), receivedAt: Date.parse(receivedAt), clientIp: null, optPlatform: null }, [member]).text;

t.test('time ranges on the raw line: since inclusive, until exclusive, on time and on receivedAt', async (t) => {
  const data = Buffer.from(['2022-12-09T08:26:54.122Z', '2022-12-09T08:26:54.123Z', '2022-12-09T08:26:54.124Z'].map((s) => exit(s, s)).join(''));
  const times = async (f: Filters) => (await found(data, f, 1 << 20, true)).out.map((l) => JSON.parse(l.slice(2)).time);
  t.same(await times({ since: '2022-12-09T08:26:54.123Z' }), ['2022-12-09T08:26:54.123Z', '2022-12-09T08:26:54.124Z']);
  t.same(await times({ until: '2022-12-09T08:26:54.123Z' }), ['2022-12-09T08:26:54.122Z']);
  t.same(await times({ receivedSince: '2022-12-09T08:26:54.123Z', receivedUntil: '2022-12-09T08:26:54.124Z' }), ['2022-12-09T08:26:54.123Z']);
});

t.test('a line the prefilter judges unmatchable is never JSON.parsed', async (t) => {
  const old = exit('2022-01-01T00:00:00.000Z', '2022-01-01T00:00:01.000Z');
  const recent = exit('2026-11-26T00:00:00.000Z', '2026-11-26T00:00:01.000Z', 'jared');
  const data = Buffer.from(old.repeat(1000) + recent + old.repeat(1000));
  const parse = JSON.parse;
  let parsed = 0;
  JSON.parse = (...args: Parameters<typeof JSON.parse>) => (parsed++, parse(...args));
  t.teardown(() => void (JSON.parse = parse));
  for (const f of [{ since: '2026-01-01T00:00:00.000Z' }, { receivedSince: '2026-01-01T00:00:00.000Z' }, { member: 'jared' }, { exitType: 'Quit', since: '2026-01-01T00:00:00.000Z' }, { operator: 'jared', until: '2027-01-01T00:00:00.000Z' }] satisfies Filters[]) {
    parsed = 0;
    t.equal((await found(data, f, 1 << 20, true)).out.length, 1, JSON.stringify(f));
    t.equal(parsed, 1, `${JSON.stringify(f)}: 1 line parsed of 2001`);
  }
  parsed = 0;
  await found(data, { since: '2026-01-01T00:00:00.000Z' }, 1 << 20, false);
  t.equal(parsed, 2001, 'without the prefilter, every line is parsed');
});
