import t from 'tap';
import { matches } from '../../src/trail/filter.js';
import { needlesOf } from '../../src/trail/prefilter.js';
import { csvCell, csvRow, localTime, table } from '../../src/trail/format.js';
import type { TrailLine } from '../../src/trail/shape.js';

const line: TrailLine = {
  time: '2022-12-09T08:26:54.123Z', event: 'group.member.exit', sdkAppId: '1400000000', groupId: '@TGS#2J4SZEAEL', groupType: 'Public',
  exitType: 'Kicked', operator: 'leckie', member: 'jared', eventTime: 1670574414123, receivedAt: '2026-11-26T01:02:33.220Z',
  clientIp: '127.0.0.1', optPlatform: 'RESTAPI', id: '0760755d6cc13dffc719bed22fc6205e',
};

t.test('filters combine; the needle is the most selective exact field', async (t) => {
  t.ok(matches({}, line));
  t.ok(matches({ member: 'jared', group: '@TGS#2J4SZEAEL', operator: 'leckie', exitType: 'Kicked', app: '1400000000', id: line.id }, line));
  t.notOk(matches({ member: 'jare' }, line), 'exact, not a prefix');
  t.notOk(matches({ member: 'jared', exitType: 'Quit' }, line));
  t.ok(matches({ since: '2022-12-09T08:26:54.123Z', until: '2022-12-09T08:26:54.124Z' }, line), 'since inclusive, until exclusive');
  t.notOk(matches({ until: '2022-12-09T08:26:54.123Z' }, line));
  t.same(needlesOf({ member: 'jared', group: 'g' }).map(String), ['"member":"jared",', '"groupId":"g",'], 'the most selective first');
  t.same(needlesOf({ id: 'ab' }).map(String), ['"id":"ab"']);
  t.same(needlesOf({ member: 'a"b\u2028' }).map(String), ['"member":"a\\"b\\u2028",'], 'escaped as the line writes it');
  t.same(needlesOf({ since: 'x' }), []);
});

t.test('csv: RFC 4180 quoting; formulas defused per OWASP; every cell exact once the rule is undone', async (t) => {
  t.equal(csvCell('plain'), 'plain');
  t.equal(csvCell('a,b'), '"a,b"');
  t.equal(csvCell('say "hi"'), '"say ""hi"""');
  t.equal(csvCell('two\nlines'), 'two\\u000alines', 'a newline is shown, not written');
  t.equal(csvCell('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`);
  // Issue #12 item 2: + - @ TAB CR passed before.
  t.equal(csvCell('+HYPERLINK("http://evil")'), `"'+HYPERLINK(""http://evil"")"`);
  t.equal(csvCell("-2+3+cmd|' /C calc'!A0"), "'-2+3+cmd|' /C calc'!A0");
  t.equal(csvCell('@SUM(1+1)*cmd|x'), "'@SUM(1+1)*cmd|x");
  t.equal(csvCell('\t=1'), '\\u0009=1', 'a leading TAB is shown escaped: the cell starts with a backslash, no formula');
  t.equal(csvCell('\r=1'), '\\u000d=1');
  t.equal(csvCell("'quoted"), "''quoted", 'a leading apostrophe is doubled, so the rule can be undone');
  t.equal(csvCell('-1'), "'-1", 'a negative-number account: a text cell that shows -1');
  t.equal(csvCell('@TGS#2J4SZEAEL'), "'@TGS#2J4SZEAEL", 'a Tencent group id: shows as @TGS#2J4SZEAEL');
  t.equal(csvCell('a\u001b[31mred'), 'a\\u001b[31mred', 'raw ESC never reaches the file');
  t.equal(csvCell('x\u202ey'), 'x\\u202ey');
  t.equal(csvCell(null), '');
  // Undo: drop one leading apostrophe, then the backslash escapes; the value comes back exactly.
  const undo = (cell: string) => {
    let s = cell.startsWith('"') ? cell.slice(1, -1).replace(/""/g, '"') : cell;
    if (s.startsWith("'")) s = s.slice(1);
    return s.replace(/\\(\\|u\{([0-9a-f]+)\}|u([0-9a-f]{4}))/g, (_, all, astral, bmp) => (all === '\\' ? '\\' : String.fromCodePoint(parseInt(astral ?? bmp, 16))));
  };
  for (const v of ['-1', '@TGS#1', "'x", "''", '=1', 'a\\b', 'tab\there', '\u202e\u0085', 'plain', 'a,"b"', '\ud800', '😀\u{e0001}']) {
    t.equal(undo(csvCell(v)), v, `round-trips: ${JSON.stringify(v)}`);
  }
  t.equal(
    csvRow(line),
    "2022-12-09T08:26:54.123Z,group.member.exit,1400000000,'@TGS#2J4SZEAEL,Public,Kicked,leckie,jared,1670574414123,2026-11-26T01:02:33.220Z,127.0.0.1,RESTAPI,0760755d6cc13dffc719bed22fc6205e\n",
  );
});

t.test('table: aligned columns, control characters shown escaped, local time on request', async (t) => {
  const out = table([line, { ...line, member: 'tommy\nnext', groupId: 'g' }], false).split('\n');
  t.equal(out[0], 'TIME                      APP         GROUP           EXIT    OPERATOR  MEMBER');
  t.equal(out[1], '2022-12-09T08:26:54.123Z  1400000000  @TGS#2J4SZEAEL  Kicked  leckie    jared');
  t.equal(out[2], '2022-12-09T08:26:54.123Z  1400000000  g               Kicked  leckie    tommy\\u000anext');
  t.match(localTime(line.time), /^2022-12-\d\d \d\d:\d\d:54\.123 [+-]\d\d:\d\d$/);
  t.match(table([line], true), localTime(line.time));
  // Issue #12 item 3: C1 controls and bidi/format characters reached the terminal raw.
  const hostile = table([{ ...line, member: 'a\u009b31mb\u009d0;x\u009c\u0085', operator: 'evil\u202egnp.exe', groupId: '\u2066g\u200b\ufeff' }], false);
  t.notMatch(hostile, /[\u0080-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\u001b]/, 'no raw control or format character');
  t.match(hostile, 'a\\u009b31mb\\u009d0;x\\u009c\\u0085');
  t.match(hostile, 'evil\\u202egnp.exe');
  t.match(hostile, '\\u2066g\\u200b\\ufeff');
});

t.test("a Community's dismissal (one line, member null): - in a table, an empty cell in CSV; no member filter matches it", async (t) => {
  const community: TrailLine = { ...line, groupId: '@TGS#_@TGS#cQVLVHIM62CJ', groupType: 'Community', exitType: 'Destroyed', operator: null, member: null };
  t.equal(table([community], false).split('\n')[1], '2022-12-09T08:26:54.123Z  1400000000  @TGS#_@TGS#cQVLVHIM62CJ  Destroyed  -         -');
  t.match(csvRow(community), ',Community,Destroyed,,,1670574414123,');
  t.notOk(matches({ member: 'jared' }, community));
  t.ok(matches({ group: '@TGS#_@TGS#cQVLVHIM62CJ', exitType: 'Destroyed' }, community));
});
