/**
 * The shipped logrotate config, run for real (`logrotate -f`) again and again while callbacks
 * arrive without pause: across the current, rotated and gzipped files, exactly one line per
 * acknowledged member, none torn, none duplicated.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { sendMany } from '../helpers/load.js';
import { runListening } from '../helpers/process.js';
import { compareMembers, readAllLines } from '../helpers/rotated.js';
import { requireTool } from '../helpers/tools.js';

const SHIPPED = new URL('../../config/logrotate/member-exit-audit', import.meta.url).pathname;

/** The shipped config, pointed at a test folder, with the test's own reload command. */
function logrotateConf(file: string, postrotate: string | null): string {
  const me = userInfo();
  let conf = readFileSync(SHIPPED, 'utf8')
    .replace('/var/log/member-exit-audit/member-exit.ndjson', file)
    .replace('create 0640 member-exit-audit member-exit-audit', `create 0640 ${me.username} ${execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim()}`);
  const reload = 'systemctl reload member-exit-audit.service >/dev/null 2>&1 || true';
  t.ok(conf.includes(reload), 'the shipped config reloads the service in postrotate');
  conf = postrotate === null ? conf.replace(/\s*postrotate[\s\S]*?endscript/, '') : conf.replace(reload, postrotate);
  return conf;
}

async function rotateUnderLoad(t: Tap.Test, opts: { rotations: number; gapMs: number; hup: boolean }) {
  const logrotate = requireTool(t, 'logrotate');
  if (!logrotate) return;
  const dir = mkdtempSync(join(tmpdir(), 'mea-logrotate-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'member-exit.ndjson');
  const svc = await runListening([], { AUDIT_FILE: file, LOG_LEVEL: 'info' }, dir);
  t.teardown(() => svc.child.kill('SIGKILL'));
  const conf = join(dir, 'logrotate.conf');
  writeFileSync(conf, logrotateConf(file, opts.hup ? `kill -HUP ${svc.child.pid}` : null), { mode: 0o644 });

  let done = false;
  const load = sendMany(svc.port, { total: 1_000_000, connections: 16, stopWhen: () => done });
  let rotations = 0;
  while (rotations < opts.rotations) {
    await new Promise((r) => setTimeout(r, opts.gapMs));
    execFileSync(logrotate, ['-f', '-s', join(dir, 'state'), conf]);
    rotations++;
  }
  await new Promise((r) => setTimeout(r, 300));
  done = true;
  const sent = await load;
  svc.child.kill('SIGTERM');
  t.equal((await svc.exited).code, 0, 'clean stop');

  const { lines, files } = readAllLines(dir, 'member-exit.ndjson');
  t.ok(files.some((f) => f.endsWith('.gz')), `gzipped files among ${files.length}: ${files.join(' ')}`);
  t.equal(statSync(file).mode & 0o777, 0o640, 'the current file is 0640 (logrotate create)');
  t.equal(sent.errors.length + sent.refused.length, 0, 'no callback refused');
  const cmp = compareMembers(sent.acked.flat(), lines);
  t.ok(sent.acked.length > opts.rotations * 10, `${sent.acked.length} callbacks acknowledged over ${rotations} rotations`);
  t.same(cmp, { missing: [], duplicated: [], unexpected: [] }, `${lines.length} lines: one per acknowledged member`);
}

t.test('20 forced rotations with the SIGHUP postrotate, callbacks without pause', (t) => rotateUnderLoad(t, { rotations: 20, gapMs: 150, hup: true }));

t.test('8 forced rotations with no postrotate at all: rename detection alone', (t) => rotateUnderLoad(t, { rotations: 8, gapMs: 1300, hup: false }));
