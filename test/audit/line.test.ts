import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import t from 'tap';
import { chainLines } from '../../src/audit/chain.js';
import { renderSeal } from '../../src/audit/seal-line.js';
import { Compile } from 'typebox/compile';
import { AuditLineSchema, formatLines, TrailLineSchema, idMaker, lineId, planLines, planLines as plan, type ExitEvent } from '../../src/audit/line.js';

const event: ExitEvent = {
  sdkAppId: '1400000000',
  groupId: '@TGS#2J4SZEAEL',
  groupType: 'Public',
  exitType: 'Kicked',
  operator: 'leckie',
  eventTime: 1670574414123,
  receivedAt: Date.UTC(2026, 10, 26, 1, 2, 3, 4),
  clientIp: '127.0.0.1',
  optPlatform: 'RESTAPI',
};

t.test('keys in the contract order, compact, newline-terminated', async (t) => {
  const { text, count } = formatLines(event, ['jared']);
  t.equal(count, 1);
  t.ok(text.endsWith('}\n'));
  t.equal(text.indexOf('\n'), text.length - 1, 'one line');
  t.same(Object.keys(JSON.parse(text)), ['time', 'event', 'sdkAppId', 'groupId', 'groupType', 'exitType', 'operator', 'member', 'eventTime', 'receivedAt', 'clientIp', 'optPlatform', 'id']);
  t.equal(text, JSON.stringify(JSON.parse(text)) + '\n', 'compact JSON, same as JSON.stringify');
  t.match(JSON.parse(text), { time: '2022-12-09T08:26:54.123Z', receivedAt: '2026-11-26T01:02:03.004Z', event: 'group.member.exit' });
});

t.test('time falls back to the receive time; nulls are JSON null', async (t) => {
  const line = JSON.parse(formatLines({ ...event, eventTime: null, clientIp: null, optPlatform: null }, ['x']).text);
  t.equal(line.time, '2026-11-26T01:02:03.004Z');
  t.equal(line.eventTime, null);
  t.equal(line.clientIp, null);
  t.equal(line.optPlatform, null);
});

t.test('id: derived from the event identity when EventTime is known', async (t) => {
  t.match(lineId(event, 'jared'), /^[0-9a-f]{32}$/);
  t.equal(lineId(event, 'jared'), lineId({ ...event, receivedAt: 0, clientIp: 'other', optPlatform: 'iOS' }, 'jared'), 'receive facts do not change it');
  for (const change of [{ sdkAppId: '1' }, { groupId: 'g' }, { eventTime: 1 }, { exitType: 'Quit' as const }, { operator: 'o' }]) {
    t.not(lineId({ ...event, ...change }, 'jared'), lineId(event, 'jared'), `changes with ${Object.keys(change)[0]}`);
  }
  t.not(lineId(event, 'jared'), lineId(event, 'tommy'));
  // The tuple encoding is unambiguous: shifting text between fields gives another id.
  t.not(lineId({ ...event, groupId: 'ab', operator: 'c' }, 'm'), lineId({ ...event, groupId: 'a', operator: 'bc' }, 'm'));
});

t.test('id: the SHA-256 of the identity tuple, for short and long fields alike', async (t) => {
  const long = { ...event, groupId: '\u0001'.repeat(128), operator: '\u2028'.repeat(64) };
  for (const e of [event, long]) {
    const make = idMaker(e);
    for (const member of ['jared', 'tommy', '\u0001x', 'jared']) {
      const tuple = JSON.stringify([e.sdkAppId, e.groupId, e.eventTime, e.exitType, e.operator, member]);
      t.equal(make(member), createHash('sha256').update(tuple).digest('hex').slice(0, 32), `${e === long ? 'long' : 'short'} head, ${JSON.stringify(member)}`);
    }
  }
});

t.test('id: random when EventTime is absent', async (t) => {
  const e = { ...event, eventTime: null };
  const ids = new Set(Array.from({ length: 100 }, () => lineId(e, 'jared')));
  t.equal(ids.size, 100);
  for (const id of ids) t.match(id, /^[0-9a-f]{32}$/);
});

t.test('hostile account strings stay on one line and round-trip', async (t) => {
  const accounts = ['a\nb', 'q"uote', 'back\\slash', 'nul\u0000ctl\u001f', 'ls\u2028ps\u2029', 'emoji 😀', '\ud800 lone surrogate', '</script>'];
  const { text, count } = formatLines({ ...event, operator: 'op\u2028' }, accounts);
  t.equal(count, accounts.length);
  const lines = text.split('\n').slice(0, -1);
  t.equal(lines.length, accounts.length, 'one physical line per member');
  t.notOk(/[\u2028\u2029]/.test(text), 'U+2028/U+2029 are escaped');
  lines.forEach((l, i) => {
    const v = JSON.parse(l);
    t.equal(v.member, accounts[i], `account ${i} round-trips`);
    t.equal(v.operator, 'op\u2028');
  });
});

t.test('duplicate members give one line each', async (t) => {
  t.equal(formatLines(event, ['a', 'a', 'b']).count, 2);
});

t.test('every line matches the published JSON Schema, which is generated from the TypeBox type', async (t) => {
  const published = JSON.parse(readFileSync(new URL('../../schema/audit-line.schema.json', import.meta.url), 'utf8'));
  const { $schema, ...schema } = published;
  t.equal($schema, 'https://json-schema.org/draft/2020-12/schema');
  t.same(schema, JSON.parse(JSON.stringify(TrailLineSchema)), 'schema file is up to date (npm run schema)');
  const check = Compile(published);
  for (const e of [event, { ...event, eventTime: null, clientIp: null, optPlatform: null }]) {
    for (const l of formatLines(e, ['a', 'b']).text.split('\n').slice(0, -1)) t.ok(check.Check(JSON.parse(l)));
  }
  // A seal line as the writer renders it and the chain ends it: the same schema takes it, and not a
  // seal line with a key added.
  const seal = renderSeal({ time: '2026-11-26T00:15:00.004Z', epoch: 3, final: true, key: 'ab'.repeat(8) }, 'cd'.repeat(32), Buffer.alloc(32, 7));
  const chained = JSON.parse(chainLines(seal, 'cd'.repeat(32)).text);
  t.ok(check.Check(chained), 'a seal line');
  t.notOk(check.Check({ ...chained, member: 'x' }), 'a seal line is not an exit line with more keys');
  t.notOk(Compile(AuditLineSchema).Check(chained), 'the exit line schema alone refuses it');
  t.notOk(check.Check({ ...JSON.parse(formatLines(event, ['a']).text), extra: 1 }), 'and refuses other lines');
});

t.test('planLines sizes lines exactly, and stops at the estimate when they cannot fit', async (t) => {
  const members = ['a', 'b', 'a', 'long-member-name'];
  // The general path (a list this short otherwise takes the small one, below).
  const planLines = (e: ExitEvent, m: string[], max?: number) => plan(e, m, max, false);
  const exact = planLines(event, members);
  const built = exact.buildSync();
  t.equal(exact.bytes, Buffer.byteLength(built.text), 'the size is the built size');
  t.equal(exact.count, 3, 'one line a distinct member');
  t.notOk(exact.estimated);
  t.same(planLines(event, members, exact.bytes).buildSync().text, built.text, 'exactly at the bound: built');
  // Over the bound by the exact size only: the estimate (every member 3 bytes) fits, the lines do not.
  const perLine = Buffer.byteLength(formatLines(event, ['a']).text) - 3;
  const tight = planLines(event, members, 3 * (perLine + 3));
  t.equal(tight.bytes, exact.bytes, 'past the estimate, sized exactly');
  t.notOk(tight.estimated);
  // Under the estimate: not a member escaped, not a line built.
  const over = planLines(event, members, 3 * (perLine + 3) - 1);
  t.equal(over.estimated, true);
  t.equal(over.bytes, 3 * (perLine + 3), 'the estimate: members times the shared part plus the least a member takes');
  t.ok(over.bytes <= exact.bytes, 'an estimate never over-counts');
  t.throws(() => over.buildSync(), /at least \d+ bytes of lines, over \d+/);
  await t.rejects(over.build(), /at least/);
});

t.test('up to 10 members, the one-string path writes exactly the bytes and ids of the general path', async (t) => {
  const cases: (string | null)[][] = [['jared'], ['a', 'b', 'a'], ['q"uo\\te', '\u2028', 'émoji 🙂', '\u0000'], [null], Array.from({ length: 10 }, (_, i) => `m${i}`)];
  for (const [k, members] of cases.entries()) {
    for (const e of [event, { ...event, operator: null, exitType: 'Destroyed' as const }]) {
      const small = planLines(e, members).buildSync();
      const general = planLines(e, members, Infinity, false).buildSync();
      t.equal(typeof small.text, 'string', 'one string, no buffers');
      t.equal(small.text, general.text.toString(), `the same bytes (case ${k + 1})`);
      t.same(small.ids, general.ids);
      t.equal(planLines(e, members).bytes, Buffer.byteLength(small.text));
    }
  }
  t.equal(planLines({ ...event, eventTime: null }, ['a']).buildSync().ids, undefined, 'no stable ids without EventTime, as on the general path');
  t.equal(planLines(event, Array.from({ length: 11 }, (_, i) => `m${i}`)).buildSync().text instanceof Buffer, true, 'from 11 members, the general path');
});

t.test('a long list is built about 256 KiB at a time, with a turn of the event loop between', async (t) => {
  const members = Array.from({ length: 10000 }, (_, i) => `member-${i}`);
  const plan = planLines(event, members);
  let turns = 0;
  let building = true;
  const tick = () => {
    if (!building) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  const lines = await plan.build();
  building = false;
  t.same(lines.text, planLines(event, members).buildSync().text, 'the same bytes as built in one go');
  const slices = Math.ceil(plan.bytes / (256 * 1024));
  t.ok(plan.bytes > 3 * 1024 * 1024, `${plan.bytes} bytes of lines`);
  t.ok(turns >= slices - 1, `${turns} other turns while ${slices} slices were built`);
});
