/**
 * The command line refuses what it cannot read (issue #22 item 6): `query --since 7` was read as
 * 2001-07-01 and succeeded, `--memer` got Node's raw parseArgs message, `check-config --help` was
 * refused, and `verify` on a missing file said only ENOENT.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import t from 'tap';
import { cli } from '../helpers/cli.js';

const line = '{"time":"2022-12-09T08:26:54.123Z","event":"group.member.exit","sdkAppId":"1","groupId":"g","groupType":"Public","exitType":"Quit","operator":"a","member":"a","eventTime":null,"receivedAt":"2026-11-26T00:00:00.000Z","clientIp":null,"optPlatform":null,"id":"00000000000000000000000000000000"}\n';

t.test('a relative time needs a unit; a bare number is refused, saying what is accepted', async (t) => {
  const file = join(t.testdir(), 'trail.ndjson');
  writeFileSync(file, line);
  for (const option of ['--since', '--until', '--received-since', '--received-until']) {
    const r = await cli(['query', option, '7', file]);
    t.same([r.code, r.stdout], [2, ''], `${option} 7: exit 2, nothing printed`);
    t.equal(r.stderr, 'member-exit-audit query: not a time: 7 (a number needs a unit: 7s, 7m, 7h, 7d or 7w before now; or give an ISO-8601 date or time like 2026-11-26, 2026-11-26T08:00:00Z or 2026-11-26T16:00+08:00)\n');
  }
  t.equal((await cli(['query', '--since', '7d', '--count', file])).code, 1, '7d: a week back, nothing in it');
  t.equal((await cli(['query', '--since', '2022-12-09', '--count', file])).stdout, '1\n');
});

t.test('an unknown option is named with the closest known one; the help is one command away', async (t) => {
  const r = await cli(['query', '--memer', 'jared']);
  t.same([r.code, r.stdout], [2, '']);
  t.equal(r.stderr, 'member-exit-audit query: unknown option --memer (did you mean --member?)\n(member-exit-audit query --help lists the options)\n');
  const v = await cli(['verify', '--genisis']);
  t.equal(v.stderr, 'member-exit-audit verify: unknown option --genisis (did you mean --genesis?)\n(member-exit-audit verify --help lists the options)\n');
  const c = await cli(['check-config', '--confg', 'x.json']);
  t.same([c.code, c.stderr], [2, 'member-exit-audit check-config: unknown option --confg (did you mean --config?)\n(member-exit-audit check-config --help lists the options)\n']);
  const s = await cli(['serve', '--confg', 'x.json']);
  t.same([s.code, s.stderr], [2, 'member-exit-audit: unknown option --confg (did you mean --config?)\n(member-exit-audit serve --help lists the options)\n']);
  const value = await cli(['query', '--member', '-42']);
  t.equal(value.stderr, 'member-exit-audit query: option --member needs a value (a value starting with - is written --member=-42)\n(member-exit-audit query --help lists the options)\n');
});

t.test('every command takes --help (and -h): its usage on stdout, exit 0', async (t) => {
  for (const command of ['serve', 'query', 'verify', 'check-config']) {
    for (const flag of ['--help', '-h']) {
      const r = await cli([command, flag]);
      t.same([r.code, r.stderr], [0, ''], `${command} ${flag}`);
      t.match(r.stdout, `Usage: member-exit-audit ${command}`);
    }
  }
});

t.test('a file that cannot be read is named, with why in words', async (t) => {
  const dir = t.testdir();
  for (const command of ['query', 'verify']) {
    const r = await cli([command, join(dir, 'absent.ndjson')]);
    t.same([r.code, r.stdout, r.stderr], [2, '', `member-exit-audit ${command}: cannot read ${join(dir, 'absent.ndjson')}: no such file\n`], command);
  }
  const cut = join(dir, 'cut.gz');
  writeFileSync(cut, gzipSync(line.repeat(100)).subarray(0, 30));
  const r = await cli(['query', cut]);
  t.same([r.code, r.stderr], [2, `member-exit-audit query: cannot read ${cut}: gzip data cut short\n`], 'a gzip cut short');
  const corrupt = join(dir, 'corrupt.gz');
  writeFileSync(corrupt, Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff]));
  const c = await cli(['query', corrupt]);
  t.same([c.code, c.stderr], [2, `member-exit-audit query: cannot read ${corrupt}: not valid gzip data\n`], 'a corrupt gzip');
});
