/**
 * The shipped logrotate config, run for real (`logrotate -f`) again and again while callbacks
 * arrive without pause: across the current, rotated and gzipped files, exactly one line per
 * acknowledged member, none torn, none duplicated.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { sendMany } from '../helpers/load.js';
import { runListening } from '../helpers/process.js';
import { compareMembers, readAllLines } from '../helpers/rotated.js';
import { logrotateConfig } from '../helpers/shipper.js';
import { requireTool } from '../helpers/tools.js';


async function rotateUnderLoad(t: Tap.Test, opts: { rotations: number; gapMs: number; hup: boolean }) {
  const logrotate = requireTool(t, 'logrotate');
  if (!logrotate) return;
  const dir = mkdtempSync(join(tmpdir(), 'mea-logrotate-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'member-exit.ndjson');
  const svc = await runListening([], { AUDIT_FILE: file, LOG_LEVEL: 'info' }, dir);
  t.teardown(() => svc.child.kill('SIGKILL'));
  const conf = join(dir, 'logrotate.conf');
  const me = `${userInfo().username} ${execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim()}`;
  logrotateConfig(t, conf, file, opts.hup ? `kill -HUP ${svc.child.pid}` : null, me);

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
  t.equal(statSync(file).mode & 0o777, 0o640, 'the current file is 0640 (made by the service: nocreate)');
  t.equal(sent.errors.length + sent.refused.length, 0, 'no callback refused');
  const cmp = compareMembers(sent.acked.flat(), lines);
  t.ok(sent.acked.length > opts.rotations * 10, `${sent.acked.length} callbacks acknowledged over ${rotations} rotations`);
  t.same(cmp, { missing: [], duplicated: [], unexpected: [] }, `${lines.length} lines: one per acknowledged member`);
}

t.test('20 forced rotations with the SIGHUP postrotate, callbacks without pause', (t) => rotateUnderLoad(t, { rotations: 20, gapMs: 150, hup: true }));

t.test('8 forced rotations with no postrotate at all: rename detection alone', (t) => rotateUnderLoad(t, { rotations: 8, gapMs: 1300, hup: false }));
