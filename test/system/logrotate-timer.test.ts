/**
 * The hourly rotation timer (issue #14): the unit pair verifies, the timer fires hourly, and the
 * service's own command line (taken from the unit, pointed at a test folder) rotates on size
 * within the day, keeps its own state, and leaves a file under maxsize alone; a symlink planted
 * where last cycle's file goes does not stop the rotation (issue #23).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { logrotateConfig } from '../helpers/shipper.js';
import { requireTool } from '../helpers/tools.js';

const UNIT = (name: string) => new URL(`../../systemd/${name}`, import.meta.url).pathname;

t.test('the timer and its service verify, and the timer fires every hour', async (t) => {
  const bin = requireTool(t, 'systemd-analyze');
  if (!bin) return;
  // --man=no: Documentation= names man:member-exit-audit(1), which only the package installs.
  const r = spawnSync(bin, ['verify', '--man=no', UNIT('member-exit-audit-logrotate.service'), UNIT('member-exit-audit-logrotate.timer')], { encoding: 'utf8' });
  t.equal(r.status, 0);
  t.equal((r.stdout + r.stderr).trim(), '', 'no warnings');
  const timer = readFileSync(UNIT('member-exit-audit-logrotate.timer'), 'utf8');
  t.match(timer, /^OnCalendar=hourly$/m);
  t.match(timer, /^Persistent=true$/m, 'a run missed while the machine was off happens at boot');
  const cal = spawnSync(bin, ['calendar', '--iterations=2', 'hourly'], { encoding: 'utf8' });
  const next = [...cal.stdout.matchAll(/(?:Next elapse|Iter\. #2): \w+ (\S+ \S+)/g)].map((m) => Date.parse(m[1]!.replace(' ', 'T')));
  t.equal(next.length, 2, 'systemd computes two elapses');
  t.equal(next[1]! - next[0]!, 3600_000, 'one hour apart');
});

t.test("the service's logrotate command rotates on size within the day, with its own state", async (t) => {
  const logrotate = requireTool(t, 'logrotate');
  if (!logrotate) return;
  const unit = readFileSync(UNIT('member-exit-audit-logrotate.service'), 'utf8');
  const exec = /^ExecStart=(.*)$/m.exec(unit)![1]!.split(' ');
  t.same(exec, ['/usr/sbin/logrotate', '--state', '/var/lib/member-exit-audit/logrotate.status', '/etc/member-exit-audit/logrotate.conf']);
  t.match(unit, /^StateDirectory=member-exit-audit$/m, 'systemd makes the state folder');

  const dir = t.testdir();
  const file = join(dir, 'member-exit.ndjson');
  const me = userInfo().username;
  const group = execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim();
  logrotateConfig(t, join(dir, 'logrotate.conf'), file, `touch ${join(dir, 'reloaded')}`, `${me} ${group}`);
  const state = join(dir, 'state', 'logrotate.status');
  execFileSync('mkdir', ['-p', join(dir, 'state')]);
  const run = () => execFileSync(logrotate, [exec[1]!, state, join(dir, 'logrotate.conf')], { encoding: 'utf8' });

  // First run of the day on a small file: logrotate only records it (nothing to rotate yet).
  writeFileSync(file, '{"line":1}\n');
  run();
  t.notOk(existsSync(`${file}.1`), 'a small file is left alone');
  t.ok(existsSync(state), 'the state is kept in our own file');
  // An hour later the file has passed maxsize (a sparse 101 MB file): rotated the same day.
  truncateSync(file, 101 * 1024 * 1024);
  run();
  t.ok(existsSync(`${file}.1`), 'rotated on size within the day');
  t.equal(statSync(`${file}.1`).size, 101 * 1024 * 1024);
  // nocreate: the service makes the new file when it sees the rename (issue #19: logrotate's
  // create raced it), so logrotate leaves the path empty.
  t.notOk(existsSync(file), 'no new file made by logrotate');
  t.ok(existsSync(join(dir, 'reloaded')), 'postrotate ran (the service reopens its file)');
  // The next hour, under maxsize again: not rotated a second time.
  writeFileSync(file, '{"line":2}\n');
  run();
  t.notOk(existsSync(`${file}.2.gz`), 'no second rotation in the same day under maxsize');
});

t.test('a symlink planted at last cycle\'s name is removed, and the rotation still happens', async (t) => {
  const logrotate = requireTool(t, 'logrotate');
  if (!logrotate) return;
  // logrotate opens `.1` to compress it (delaycompress) and will not follow a symlink: before the
  // firstaction guard, one planted there failed every rotation, and the size cap with it (#23).
  const dir = t.testdir();
  const file = join(dir, 'member-exit.ndjson');
  logrotateConfig(t, join(dir, 'logrotate.conf'), file, null, `${userInfo().username} ${execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim()}`);
  const target = join(dir, 'precious');
  writeFileSync(target, 'not a trail file\n');
  symlinkSync(target, `${file}.1`);
  writeFileSync(file, '{"line":1}\n');
  const r = spawnSync(logrotate, ['--force', '--state', join(dir, 'state'), join(dir, 'logrotate.conf')], { encoding: 'utf8' });
  t.equal(r.status, 0, `logrotate succeeds: ${r.stderr.trim()}`);
  t.match(r.stderr, /removing .*member-exit\.ndjson\.1, not a rotated file/, 'and says what it removed');
  t.ok(lstatSync(`${file}.1`).isFile(), '.1 is the rotated file');
  t.equal(readFileSync(`${file}.1`, 'utf8'), '{"line":1}\n');
  t.equal(readFileSync(target, 'utf8'), 'not a trail file\n', 'the symlink\'s target is untouched');
  t.notOk(existsSync(`${file}.2.gz`), 'nothing of it was compressed into the trail');
});
