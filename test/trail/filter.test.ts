import t from 'tap';
import { matches, needleOf, parseTime } from '../../src/trail/filter.js';
import { csvCell, csvRow, localTime, table } from '../../src/trail/format.js';
import type { AuditLine } from '../../src/audit/line.js';

const line: AuditLine = {
  time: '2022-12-09T08:26:54.123Z', event: 'group.member.exit', sdkAppId: '1400000000', groupId: '@TGS#2J4SZEAEL', groupType: 'Public',
  exitType: 'Kicked', operator: 'leckie', member: 'jared', eventTime: 1670574414123, receivedAt: '2026-11-26T01:02:33.220Z',
  clientIp: '127.0.0.1', optPlatform: 'RESTAPI', id: '0760755d6cc13dffc719bed22fc6205e',
};

t.test('times: ISO-8601 and relative', async (t) => {
  const now = Date.UTC(2026, 10, 26, 12, 0, 0);
  t.equal(parseTime('7d', now), '2026-11-19T12:00:00.000Z');
  t.equal(parseTime('12h', now), '2026-11-26T00:00:00.000Z');
  t.equal(parseTime('30m', now), '2026-11-26T11:30:00.000Z');
  t.equal(parseTime('2w', now), '2026-11-12T12:00:00.000Z');
  t.equal(parseTime('2022-12-09T08:26:54Z'), '2022-12-09T08:26:54.000Z');
  t.equal(parseTime('2022-12-09T16:26:54+08:00'), '2022-12-09T08:26:54.000Z');
  for (const bad of ['yesterday', '7x', '', '-1d', 'd7']) t.throws(() => parseTime(bad), /not a time/, bad);
});

t.test('filters combine; the needle is the most selective exact field', async (t) => {
  t.ok(matches({}, line));
  t.ok(matches({ member: 'jared', group: '@TGS#2J4SZEAEL', operator: 'leckie', exitType: 'Kicked', app: '1400000000', id: line.id }, line));
  t.notOk(matches({ member: 'jare' }, line), 'exact, not a prefix');
  t.notOk(matches({ member: 'jared', exitType: 'Quit' }, line));
  t.ok(matches({ since: '2022-12-09T08:26:54.123Z', until: '2022-12-09T08:26:54.124Z' }, line), 'since inclusive, until exclusive');
  t.notOk(matches({ until: '2022-12-09T08:26:54.123Z' }, line));
  t.equal(needleOf({ member: 'jared', group: 'g' })!.toString(), '"member":"jared",');
  t.equal(needleOf({ id: 'ab' })!.toString(), '"id":"ab"');
  t.equal(needleOf({ member: 'a"b\u2028' })!.toString(), '"member":"a\\"b\\u2028",', 'escaped as the line writes it');
  t.equal(needleOf({ since: 'x' }), undefined);
});

t.test('csv: RFC 4180 quoting; formulas defused', async (t) => {
  t.equal(csvCell('plain'), 'plain');
  t.equal(csvCell('a,b'), '"a,b"');
  t.equal(csvCell('say "hi"'), '"say ""hi"""');
  t.equal(csvCell('two\nlines'), '"two\nlines"');
  t.equal(csvCell('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`);
  t.equal(csvCell('-1'), '-1', 'negative numbers and @group ids stay exact');
  t.equal(csvCell('@TGS#1'), '@TGS#1');
  t.equal(csvCell(null), '');
  t.equal(csvRow(line), '2022-12-09T08:26:54.123Z,group.member.exit,1400000000,@TGS#2J4SZEAEL,Public,Kicked,leckie,jared,1670574414123,2026-11-26T01:02:33.220Z,127.0.0.1,RESTAPI,0760755d6cc13dffc719bed22fc6205e\n');
});

t.test('table: aligned columns, control characters shown escaped, local time on request', async (t) => {
  const out = table([line, { ...line, member: 'tommy\nnext', groupId: 'g' }], false).split('\n');
  t.equal(out[0], 'TIME                      APP         GROUP           EXIT    OPERATOR  MEMBER');
  t.equal(out[1], '2022-12-09T08:26:54.123Z  1400000000  @TGS#2J4SZEAEL  Kicked  leckie    jared');
  t.equal(out[2], '2022-12-09T08:26:54.123Z  1400000000  g               Kicked  leckie    tommy\\u000anext');
  t.match(localTime(line.time), /^2022-12-\d\d \d\d:\d\d:54\.123 [+-]\d\d:\d\d$/);
  t.match(table([line], true), localTime(line.time));
});
