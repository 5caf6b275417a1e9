/**
 * The rotation race (issue #19): with logrotate's `create`, a batch written between logrotate's
 * rename and its create made the service create the file, and logrotate then moved that file
 * aside as `*.backup`, outside the names query, verify and the shippers read (seen in about 1 of
 * 50 package-test runs). The shipped config uses `nocreate` (the service makes the file itself);
 * proved here by many forced rotations in quick succession under load, with the chain on: no
 * `.backup`, every acknowledged member in the trail's own names, `verify` clean.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { trailFiles } from '../../src/audit/siblings.js';
import { cli } from '../helpers/cli.js';
import { sendMany } from '../helpers/load.js';
import { runListening } from '../helpers/process.js';
import { compareMembers, readAllLines } from '../helpers/rotated.js';
import { logrotateConfig } from '../helpers/shipper.js';
import { requireTool } from '../helpers/tools.js';

const ROTATIONS = Number(process.env.MEA_ROTATIONS ?? 200);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test(`${ROTATIONS} forced rotations under load with the chain on: no line outside the trail's names, verify clean`, { timeout: 300000 }, async (t) => {
  const logrotate = requireTool(t, 'logrotate');
  if (!logrotate) return;
  const dir = t.testdir();
  const file = join(dir, 'member-exit.ndjson');
  const cfg = join(dir, 'config.json');
  writeFileSync(cfg, JSON.stringify({ audit: { chain: true } }));
  const svc = await runListening(['--config', cfg], { AUDIT_FILE: file, LOG_LEVEL: 'info' }, dir);
  t.teardown(() => svc.child.kill('SIGKILL'));
  const conf = join(dir, 'logrotate.conf');
  const me = `${userInfo().username} ${execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim()}`;
  logrotateConfig(t, conf, file, `kill -HUP ${svc.child.pid}`, me);
  // Keep every rotated file: the test counts every line ever written.
  writeFileSync(conf, execFileSync('sed', ['s/rotate 90/rotate 100000/', conf]));

  let done = false;
  const load = sendMany(svc.port, { total: 10_000_000, connections: 16, stopWhen: () => done });
  for (let i = 0; i < ROTATIONS; i++) {
    // Gaps from 0 to 40 ms: logrotate's rename and its postrotate land anywhere among the batches.
    await sleep(i % 5 === 0 ? 0 : (i * 7) % 41);
    execFileSync(logrotate, ['-f', '-s', join(dir, 'state'), conf]);
  }
  await sleep(300);
  done = true;
  const sent = await load;
  svc.child.kill('SIGTERM');
  t.equal((await svc.exited).code, 0, 'clean stop');

  const names = readdirSync(dir).filter((n) => n.startsWith('member-exit.ndjson'));
  t.same(names.filter((n) => n.includes('.backup')), [], 'no file moved aside as .backup');
  const trail = new Set(trailFiles(file).map((f) => f.slice(dir.length + 1)));
  t.same(names.filter((n) => !trail.has(n)), [], `every file is one of the trail's own names (${trail.size} files)`);
  const { lines } = readAllLines(dir, 'member-exit.ndjson');
  t.equal(sent.errors.length + sent.refused.length, 0, 'no callback refused');
  t.ok(sent.acked.length > ROTATIONS * 5, `${sent.acked.length} callbacks acknowledged over ${ROTATIONS} rotations`);
  t.same(compareMembers(sent.acked.flat(), lines), { missing: [], duplicated: [], unexpected: [] }, `${lines.length} lines: one per acknowledged member`);
  const verified = await cli(['verify'], { env: { AUDIT_FILE: file } });
  t.equal(verified.code, 0, `verify: ${verified.stdout.trim() || verified.stderr.trim()}`);
});
