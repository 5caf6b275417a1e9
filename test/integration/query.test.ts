/**
 * `member-exit-audit query` on a real trail: lines written by the service, rotated into plain and
 * gzip files, with a malformed line among them.
 */
import { appendFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import t from 'tap';
import { cli } from '../helpers/cli.js';
import { exitBody, post, request, FIXTURES, startTest } from '../helpers/service.js';

/** Build the trail: .2.gz (oldest), .1, a malformed line, the current file. */
async function trail(t: Tap.Test) {
  const svc = await startTest(t);
  const send = (over: Record<string, unknown>) => post(svc.port, exitBody(over));
  const qs = readFileSync(FIXTURES + 'doc-sample.query', 'utf8').trim();
  // Oldest file: the documented sample (jared and tommy kicked by leckie, 2022-12-09).
  await request(svc.port, { path: '/?' + qs, body: readFileSync(FIXTURES + 'doc-sample.json') });
  await send({ GroupId: 'g-old', ExitType: 'Quit', Operator_Account: 'amy', ExitMemberList: [{ Member_Account: 'amy' }], EventTime: 1670000000000 });
  renameSync(svc.file, `${svc.file}.2`);
  svc.reload();
  await send({ GroupId: 'g-mid', ExitMemberList: [{ Member_Account: 'jared' }], EventTime: 1700000000000 });
  renameSync(svc.file, `${svc.file}.1`);
  svc.reload();
  await send({ GroupId: '@TGS#2J4SZEAEL', ExitType: 'Quit', Operator_Account: 'jared', ExitMemberList: [{ Member_Account: 'jared' }], EventTime: 1760000000000 });
  await send({ GroupId: 'g-new', ExitMemberList: [{ Member_Account: '=cmd|calc' }, { Member_Account: 'bob' }], EventTime: 1760000001000 });
  await svc.stop();
  writeFileSync(`${svc.file}.2.gz`, gzipSync(readFileSync(`${svc.file}.2`)));
  renameSync(`${svc.file}.2`, `${svc.file}.2.bak`); // not a sibling name: ignored
  // A torn line from another writer, then a hand-edited one, in the middle file.
  appendFileSync(`${svc.file}.1`, '{"time":"2023-11-14T22:13:20.000Z","member":"jared"\n{"member":"jared", edited by hand}\n');
  return { file: svc.file, dir: dirname(svc.file), env: { AUDIT_FILE: svc.file } };
}

t.test('query across rotated files: filters, formats, exit status', async (t) => {
  const { file, env } = await trail(t);
  const q = (...args: string[]) => cli(['query', ...args], { env });

  const jared = await q('--member', 'jared');
  t.equal(jared.code, 0);
  const lines = jared.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
  t.same(lines.map((l) => [l.groupId, l.time]), [
    ['@TGS#2J4SZEAEL', '2022-12-09T08:26:54.123Z'],
    ['g-mid', '2023-11-14T22:13:20.000Z'],
    ['@TGS#2J4SZEAEL', '2025-10-09T08:53:20.000Z'],
  ], 'oldest first: .2.gz, .1, current');
  t.same(lines[0], { ...lines[0], exitType: 'Kicked', operator: 'leckie' }, 'when did jared leave, and who kicked him');
  t.equal(jared.stderr, `${file}.1:3: malformed line skipped\n`, 'the hand-edited line holding the needle is reported with file and line');
  t.equal(jared.stdout.split('\n')[0], readFileSync(`${file}.2.bak`, 'utf8').split('\n')[0], 'lines come out byte for byte');
  const all = await q('--since', '2000-01-01');
  t.equal(all.stderr, `${file}.1:2: malformed line skipped\n${file}.1:3: malformed line skipped\n`, 'a full scan reports the torn line too, and goes on');
  t.equal(all.stdout.trimEnd().split('\n').length, 7);

  t.same((await q('--member', 'jared', '--exit-type', 'Kicked', '--group', '@TGS#2J4SZEAEL')).stdout.trimEnd().split('\n').length, 1);
  t.equal((await q('--operator', 'leckie', '--count')).stdout, '5\n');
  t.equal((await q('--app', '1400000000', '--count')).stdout, '7\n');
  t.equal((await q('--since', '2023-01-01', '--until', '2025-01-01', '--count')).stdout, '1\n');
  t.equal((await q('--since', '100000d', '--count')).stdout, '7\n', 'relative time');
  // The documented sample happened in 2022 but arrived just now: --since asks about the event,
  // --received-since about the arrival (issue #14: "what arrived in the last hour?").
  t.equal((await q('--since', '1h', '--count')).stdout, '0\n', 'no event happened in the last hour');
  t.equal((await q('--received-since', '1h', '--count')).stdout, '7\n', 'every line arrived in the last hour');
  t.equal((await q('--received-until', '1h', '--count')).stdout, '0\n');
  t.equal((await q('--received-since', '1h', '--member', 'tommy', '--count')).stdout, '1\n');
  t.equal((await q('--received-since', 'yesterday')).code, 2, 'a bad time is a usage error');
  const id = lines[1].id;
  t.equal(JSON.parse((await q('--id', id)).stdout).groupId, 'g-mid');

  const none = await q('--member', 'nobody');
  t.same({ code: none.code, stdout: none.stdout }, { code: 1, stdout: '' }, 'exit 1 when nothing matched, like grep');
  const noneCount = await q('--member', 'nobody', '--count');
  t.same({ code: noneCount.code, stdout: noneCount.stdout }, { code: 1, stdout: '0\n' });

  const csv = await q('--group', 'g-new', '--format', 'csv');
  t.equal(csv.stdout.split('\n')[0], 'time,event,sdkAppId,groupId,groupType,exitType,operator,member,eventTime,receivedAt,clientIp,optPlatform,id');
  t.match(csv.stdout.split('\n')[1], /,'=cmd\|calc,/, 'the formula is defused');
  const table = await q('--member', 'jared', '--format', 'table');
  t.match(table.stdout, /^TIME +APP +GROUP +EXIT +OPERATOR +MEMBER\n2022-12-09T08:26:54\.123Z +1400000000 +@TGS#2J4SZEAEL +Kicked +leckie +jared\n/);
  const local = await q('--member', 'jared', '--format', 'table', '--local');
  t.match(local.stdout, /2022-12-09 16:26:54\.123 \+08:00/, 'local time (TZ=Asia/Shanghai)');

  t.equal((await q('--format', 'xml')).code, 2);
  t.match((await q('--since', 'yesterday')).stderr, /not a time: yesterday/);
  t.equal((await q('--bogus')).code, 2);
  t.match((await q('--help')).stdout, /Usage: member-exit-audit query/);
});

t.test('query on the files given, and on stdin', async (t) => {
  const { file } = await trail(t);
  const given = await cli(['query', '--member', 'jared', '--count', `${file}.2.gz`, file]);
  t.equal(given.stdout, '2\n', 'only the files given (gzip by content)');
  const stdin = await cli(['query', '--member', 'bob', '-'], { stdin: readFileSync(file) });
  t.equal(JSON.parse(stdin.stdout).member, 'bob');
  const gzStdin = await cli(['query', '--count', '-'], { stdin: readFileSync(`${file}.2.gz`) });
  t.equal(gzStdin.stdout, '3\n', 'gzip on stdin');
  const missing = await cli(['query', '/nonexistent/file']);
  t.equal(missing.code, 2);
  t.equal(missing.stderr, 'member-exit-audit query: cannot read /nonexistent/file: no such file\n', 'the file named, in words (issue #22 item 6: only ENOENT)');
});

t.test('the command line: help for each subcommand, unknown commands, npx', async (t) => {
  t.match((await cli(['--help'])).stdout, /Commands:\n {2}serve/);
  t.match((await cli(['serve', '--help'])).stdout, /Usage: member-exit-audit serve/);
  t.match((await cli(['verify', '--help'])).stdout, /Usage: member-exit-audit verify/);
  const unknown = await cli(['frobnicate']);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /unknown command frobnicate/);
  t.equal((await cli([])).code, 2);
  const { execFileSync } = await import('node:child_process');
  const viaNpx = execFileSync('npx', ['--no-install', 'member-exit-audit', 'query', '--help'], { cwd: new URL('../..', import.meta.url).pathname, encoding: 'utf8' });
  t.match(viaNpx, /Usage: member-exit-audit query/, 'npx member-exit-audit works in the project');
});

// Issue #12 item 4: one very long line cost quadratic time and unbounded memory; a small gzip of
// newlines produced 409 MB of stderr.
t.test('query and verify on hostile files: long lines skipped once, floods counted', { timeout: 60000 }, async (t) => {
  const dir = t.testdir();
  const good = (m: string) => `{"time":"2022-12-09T08:26:54.123Z","event":"group.member.exit","sdkAppId":"1","groupId":"g","groupType":"Public","exitType":"Quit","operator":"${m}","member":"${m}","eventTime":null,"receivedAt":"2026-11-26T00:00:00.000Z","clientIp":null,"optPlatform":null,"id":"${'0'.repeat(32)}"}\n`;
  // 64 MiB of one line between two good ones, gzip'ed (~64 KB on disk).
  const long = join(dir, 'long.ndjson.gz');
  writeFileSync(long, gzipSync(Buffer.concat([Buffer.from(good('before')), Buffer.alloc(64 << 20, 0x61), Buffer.from('\n' + good('after'))])));
  const res = await cli(['query', '--operator', 'after', long, '--count']);
  t.equal(res.stdout, '1\n', 'the line after the long one is found');
  const all = await cli(['query', long]);
  t.equal(all.stdout, good('before') + good('after'));
  t.equal(all.stderr, `${long}:2: line longer than 1048576 bytes skipped\n`, 'reported once, with its place');
  const ver = await cli(['verify', long]);
  t.equal(ver.code, 1);
  t.match(ver.stdout, `${long}:2: a line longer than 1048576 bytes`);

  // A flood: 2,000,000 empty lines in a small gzip.
  const flood = join(dir, 'flood.ndjson.gz');
  writeFileSync(flood, gzipSync(Buffer.concat([Buffer.alloc(2_000_000, 0x0a), Buffer.from(good('last'))])));
  const f = await cli(['query', flood]);
  t.equal(f.code, 0);
  t.equal(f.stdout, good('last'));
  const errLines = f.stderr.trimEnd().split('\n');
  t.equal(errLines.length, 11, 'ten lines named, then one count');
  t.equal(errLines[0], `${flood}:1: malformed line skipped`);
  t.equal(errLines[10], 'member-exit-audit query: 1999990 more malformed, foreign or too long lines skipped (2000000 in all)');
});
