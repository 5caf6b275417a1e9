/**
 * The shipped rsyslog config (imfile), run for real: rsyslogd follows the audit file through
 * logrotate rotations and forwards every line, unchanged, to an output file. Nothing lost,
 * nothing doubled.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { sendMany } from '../helpers/load.js';
import { runListening } from '../helpers/process.js';
import { parseLines } from '../helpers/lines.js';
import { compareMembers, readAllLines } from '../helpers/rotated.js';
import { logrotateConfig, shipperConfig } from '../helpers/shipper.js';
import { requireTool } from '../helpers/tools.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('rsyslog imfile ships every line once, unchanged, across rotations', async (t) => {
  const rsyslogd = requireTool(t, 'rsyslogd');
  const logrotate = requireTool(t, 'logrotate');
  if (!rsyslogd || !logrotate) return;
  const dir = mkdtempSync(join(tmpdir(), 'mea-rsyslog-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const logs = join(dir, 'log');
  const work = join(dir, 'work');
  mkdirSync(logs);
  mkdirSync(work);
  const file = join(logs, 'member-exit.ndjson');
  const out = join(dir, 'shipped.ndjson');

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
