/**
 * The shipped rsyslog config (imfile), run for real: rsyslogd follows the audit file through
 * logrotate rotations and forwards every line, unchanged, to an output file. Nothing lost,
 * nothing doubled.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { sendMany } from '../helpers/load.js';
import { runListening } from '../helpers/process.js';
import { parseLines } from '../helpers/lines.js';
import { compareMembers, readAllLines } from '../helpers/rotated.js';
import { judgeShipping, logrotateConfig, shippedWhenSettled, shipperConfig, shipperDirs } from '../helpers/shipper.js';
import { exitBody, post } from '../helpers/service.js';
import { requireTool } from '../helpers/tools.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('rsyslog imfile ships every line once, unchanged, across rotations', async (t) => {
  const rsyslogd = requireTool(t, 'rsyslogd');
  const logrotate = requireTool(t, 'logrotate');
  if (!rsyslogd || !logrotate) return;
  const { dir, logs, work, file, out } = shipperDirs(t, 'rsyslog');

  // The shipped config with its output swapped for a local file, plus a private work directory.
  const conf = `global(workDirectory="${work}")\n` +
    shipperConfig(t, 'rsyslog.conf', `action(type="omfile" file="${out}" template="member_exit_audit_raw")`).replaceAll('/var/log/member-exit-audit', logs);
  writeFileSync(join(dir, 'rsyslog.conf'), conf);
  execFileSync(rsyslogd, ['-N1', '-f', join(dir, 'rsyslog.conf')], { stdio: 'pipe' });

  const svc = await runListening([], { AUDIT_FILE: file }, dir);
  t.teardown(() => svc.child.kill('SIGKILL'));
  const rs = spawn(rsyslogd, ['-n', '-f', join(dir, 'rsyslog.conf'), '-i', join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let rsErr = '';
  rs.stderr.on('data', (d) => (rsErr += d));
  t.teardown(() => rs.kill('SIGKILL'));

  logrotateConfig(t, join(dir, 'logrotate.conf'), file, `kill -HUP ${svc.child.pid}`);

  let stop = false;
  const load = sendMany(svc.port, { total: 1_000_000, connections: 8, stopWhen: () => stop });
  for (let i = 0; i < 6; i++) {
    await sleep(700);
    execFileSync(logrotate, ['-f', '-s', join(dir, 'state'), join(dir, 'logrotate.conf')]);
  }
  await sleep(500);
  stop = true;
  const sent = await load;
  svc.child.kill('SIGTERM');
  await svc.exited;

  const { lines: onDisk } = readAllLines(logs, 'member-exit.ndjson');
  const expected = onDisk.length;
  // Wait for rsyslog to catch up with everything on disk.
  let shipped2: string[] = [];
  for (let waited = 0; waited < 20000; waited += 250) {
    shipped2 = existsSync(out) ? readFileSync(out, 'utf8').split('\n').slice(0, -1) : [];
    if (shipped2.length >= expected) break;
    await sleep(250);
  }
  await sleep(500);
  const text = existsSync(out) ? readFileSync(out, 'utf8') : '';
  rs.kill('SIGTERM');
  t.equal(rsErr.includes('error'), false, `rsyslogd reported no error ${rsErr.slice(0, 300)}`);

  const shippedLines = parseLines(text, 'shipped');
  t.ok(sent.acked.length > 100, `${sent.acked.length} callbacks acknowledged`);
  t.same(compareMembers(sent.acked.flat(), shippedLines), { missing: [], duplicated: [], unexpected: [] }, `${shippedLines.length} shipped lines: every acknowledged member once`);
  // Unchanged: the shipped bytes are exactly the lines on disk.
  const diskText = new Set(readAllLines(logs, 'member-exit.ndjson').lines.map((l) => JSON.stringify(l)));
  t.ok(text.split('\n').slice(0, -1).every((l) => diskText.has(l)), 'every shipped line is byte-for-byte a line on disk');
});

// Issue #13, the whole scenario: 10 rotations with the SIGHUP postrotate and 4 without, then
// rsyslog stopped across one more rotation and started again, and a 42 KB line.
t.test('rsyslog across 14 rotations, a stop across one more, and a long line: as its config says', { timeout: 180000 }, async (t) => {
  const rsyslogd = requireTool(t, 'rsyslogd');
  const logrotate = requireTool(t, 'logrotate');
  if (!rsyslogd || !logrotate) return;
  const { dir, logs, work, file, out } = shipperDirs(t, 'rsyslog-full');
  writeFileSync(
    join(dir, 'rsyslog.conf'),
    `global(workDirectory="${work}")\n` + shipperConfig(t, 'rsyslog.conf', `action(type="omfile" file="${out}" template="member_exit_audit_raw")`).replaceAll('/var/log/member-exit-audit', logs),
  );
  // Limits raised so that one 42 KB line is possible (the defaults top out near 2.6 KB).
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ limits: { groupIdBytes: 4096, accountBytes: 4096 } }));
  const svc = await runListening(['--config', join(dir, 'config.json')], { AUDIT_FILE: file }, dir);
  t.teardown(() => svc.child.kill('SIGKILL'));
  const startRsyslog = () => spawn(rsyslogd, ['-n', '-f', join(dir, 'rsyslog.conf'), '-i', join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'ignore', 'ignore'] });
  let rs = startRsyslog();
  t.teardown(() => rs.kill('SIGKILL'));
  logrotateConfig(t, join(dir, 'logrotate-hup.conf'), file, `kill -HUP ${svc.child.pid}`);
  logrotateConfig(t, join(dir, 'logrotate-plain.conf'), file, null);
  const rotate = (hup: boolean) => execFileSync(logrotate, ['-f', '-s', join(dir, 'state'), join(dir, hup ? 'logrotate-hup.conf' : 'logrotate-plain.conf')]);
  await sleep(500);

  let stop = false;
  const load = sendMany(svc.port, { total: 10_000_000, connections: 8, stopWhen: () => stop });
  t.equal((await post(svc.port, exitBody({ GroupId: '\u0001'.repeat(4000), Operator_Account: '\u0001'.repeat(3000), ExitMemberList: [{ Member_Account: 'long-line' }] }))).status, 200, 'a 42 KB line written');
  for (let i = 0; i < 14; i++) {
    await sleep(700);
    rotate(i < 10);
  }
  await sleep(1000);
  rs.kill('SIGTERM');
  await new Promise((r) => rs.once('exit', r));
  await sleep(300);
  rotate(true);
  await sleep(300);
  rs = startRsyslog();
  await sleep(1500);
  stop = true;
  const sent = await load;
  svc.child.kill('SIGTERM');
  await svc.exited;

  // Wait until rsyslog has shipped everything it will.
  const shipped = await shippedWhenSettled(out);
  rs.kill('SIGTERM');
  t.ok(sent.acked.length > 500, `${sent.acked.length} callbacks acknowledged`);
  const longLine = shipped.find((l) => l.includes('"member":"long-line"'));
  t.ok(longLine && longLine.length > 40000, `the long line arrived whole (${longLine?.length} bytes)`);
  const caught = execFileSync(process.execPath, [new URL('../../dist/cli.js', import.meta.url).pathname, 'query', `${file}.1`], { encoding: 'utf8', maxBuffer: 1 << 30 }).split('\n').filter(Boolean);
  const figures = judgeShipping(t, logs, shipped, caught);
  t.comment(`rsyslog: ${figures.disk} lines on disk, ${figures.shipped} shipped, ${figures.left} left for the catch-up, ${figures.duplicated} duplicated`);
});
