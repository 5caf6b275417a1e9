/**
 * Lines of the trail that are not one member's exit: a foreign line (valid JSON, not an audit
 * line: issue #23 item 5, `--format table` threw a TypeError and printed nothing), a sealing line
 * (`"event":"seal"`, part of the trail), and a Community's dismissal (one line for the group,
 * `member` null). Written by hand here, as the writer will write them.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { cli } from '../helpers/cli.js';

const exit = (over: Record<string, unknown>) =>
  JSON.stringify({
    time: '2022-12-09T08:26:54.123Z', event: 'group.member.exit', sdkAppId: '1400000000', groupId: '@TGS#2J4SZEAEL', groupType: 'Public', exitType: 'Kicked',
    operator: 'leckie', member: 'jared', eventTime: 1670574414123, receivedAt: '2026-11-26T01:02:33.220Z', clientIp: '127.0.0.1', optPlatform: 'RESTAPI',
    id: '0760755d6cc13dffc719bed22fc6205e', ...over,
  });
const COMMUNITY = '@TGS#_@TGS#cQVLVHIM62CJ';

function trail(t: Tap.Test) {
  const file = join(t.testdir(), 'member-exit.ndjson');
  const { member: _, ...noMember } = JSON.parse(exit({}));
  const lines = [
    exit({}),
    JSON.stringify(noMember), // 2: foreign, no member
    JSON.stringify({ time: '2022-12-10T00:00:00.000Z', event: 'seal', lines: 3, hash: 'ab'.repeat(32) }), // 3: silent
    exit({ event: 'group.member.join', member: 'x' }), // 4: foreign, unknown event
    exit({ groupId: COMMUNITY, groupType: 'Community', exitType: 'Destroyed', operator: null, member: null, id: '1'.repeat(32) }),
    '[1,2,3]', // 6: foreign, not an object
    exit({ member: 'tommy', operator: 'tommy', exitType: 'Quit', id: '2'.repeat(32) }),
    exit({ member: 7, id: '3'.repeat(32) }), // 8: foreign, member not a string
  ];
  writeFileSync(file, lines.join('\n') + '\n');
  const warnings = `${file}:2: foreign line skipped (no "member")\n${file}:4: foreign line skipped (unknown event "group.member.join")\n${file}:6: foreign line skipped (not a JSON object)\n${file}:8: foreign line skipped ("member" is not a string or null)\n`;
  return { file, lines, warnings };
}

t.test('a foreign line is skipped with a warning in every format, the rest printed; a sealing line in silence', async (t) => {
  const { file, lines, warnings } = trail(t);
  const nd = await cli(['query', file]);
  t.same([nd.code, nd.stdout, nd.stderr], [0, [lines[0], lines[4], lines[6]].join('\n') + '\n', warnings], 'ndjson: the audit lines as written');
  const table = await cli(['query', '--format', 'table', file]);
  t.same([table.code, table.stderr], [0, warnings], 'table: no TypeError, exit 0');
  t.equal(
    table.stdout,
    [
      'TIME                      APP         GROUP                    EXIT       OPERATOR  MEMBER',
      '2022-12-09T08:26:54.123Z  1400000000  @TGS#2J4SZEAEL           Kicked     leckie    jared',
      `2022-12-09T08:26:54.123Z  1400000000  ${COMMUNITY}  Destroyed  -         -`,
      '2022-12-09T08:26:54.123Z  1400000000  @TGS#2J4SZEAEL           Quit       tommy     tommy',
      '',
    ].join('\n'),
    "the Community's dismissal: no operator, no member, both -",
  );
  const csv = await cli(['query', '--format', 'csv', file]);
  t.same([csv.code, csv.stderr], [0, warnings]);
  t.equal(csv.stdout.split('\n').length, 5, 'header, three rows, end');
  t.match(csv.stdout.split('\n')[2], `,Community,Destroyed,,,1670574414123,`, 'an empty cell for each null');
  const count = await cli(['query', '--count', file]);
  t.same([count.code, count.stdout, count.stderr], [0, '3\n', warnings]);
});

t.test("a Community's dismissal is found by its group, never by a member", async (t) => {
  const { file, lines } = trail(t);
  const group = await cli(['query', '--group', COMMUNITY, file]);
  t.same([group.code, group.stdout, group.stderr], [0, lines[4] + '\n', '']);
  t.equal((await cli(['query', '--exit-type', 'Destroyed', '--count', file])).stdout, '1\n');
  const jared = await cli(['query', '--member', 'jared', '--group', COMMUNITY, file]);
  t.same([jared.code, jared.stdout], [1, ''], 'no member matches it');
});

t.test('only foreign lines: nothing matched, exit 1, each named', async (t) => {
  const file = join(t.testdir(), 'foreign.ndjson');
  writeFileSync(file, '{"hello":"world"}\n{"event":"seal"}\n');
  const r = await cli(['query', '--format', 'table', file]);
  t.same([r.code, r.stdout, r.stderr], [1, '', `${file}:1: foreign line skipped (no "event")\n`]);
});
