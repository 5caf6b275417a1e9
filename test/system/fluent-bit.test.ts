/**
 * The shipped Fluent Bit config, run with a real Fluent Bit (issue #13): the service under
 * continuous load, the real logrotate with the shipped config, 10 rotations with the SIGHUP
 * postrotate and 4 without it, then Fluent Bit stopped, one rotation while it is down, and
 * restarted. Every line on disk is shipped exactly once, byte for byte, except what the config's
 * head says is not (the tail of the file rotated while Fluent Bit was down, which `query` finds);
 * a 40 KB line arrives whole.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { sendMany } from '../helpers/load.js';
import { runListening } from '../helpers/process.js';
import { exitBody, post } from '../helpers/service.js';
import { judgeShipping, logrotateConfig, shippedWhenSettled, shipperConfig, shipperDirs } from '../helpers/shipper.js';
import { requireTool, which } from '../helpers/tools.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const PARSERS = join(ROOT, 'config/shippers/member-exit-audit-parsers.conf');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** FLUENT_BIT, a fluent-bit on PATH, or the one in the workplace's shared tools beside the project. */
function fluentBit(t: Tap.Test): string | null {
  const shared = join(ROOT, '../shared/tools/fluent-bit/fluent-bit');
  const found = process.env.FLUENT_BIT ?? which('fluent-bit') ?? (existsSync(shared) ? shared : null);
  if (found) return found;
  if (process.env.CI) t.fail('fluent-bit not found: .ci/run should have located it (FLUENT_BIT)');
  else t.skip('fluent-bit not found (set FLUENT_BIT, or put ../shared/tools/fluent-bit beside the project)');
  return null;
}

t.test('Fluent Bit ships every line once across rotations, and a restart across one as its config says', { timeout: 180000 }, async (t) => {
  const bin = fluentBit(t);
  const logrotate = requireTool(t, 'logrotate');
  if (!bin || !logrotate) return;
  const { dir, logs, work: state, file, out } = shipperDirs(t, 'fluent-bit');

  // The shipped config, its paths pointed here and its output swapped for a file of raw lines.
  const output = `[OUTPUT]\n    Name     file\n    Match    member_exit_audit\n    Path     ${dir}\n    File     shipped.ndjson\n    Format   template\n    Template {log}\n`;
  writeFileSync(join(dir, 'member-exit-audit-parsers.conf'), readFileSync(PARSERS, 'utf8'));
  writeFileSync(join(dir, 'fluent-bit.conf'), shipperConfig(t, 'fluent-bit.conf', output).replaceAll('/var/log/member-exit-audit', logs).replaceAll('/var/lib/fluent-bit', state));
  const startFluentBit = (): ChildProcess => {
    const fb = spawn(bin, ['-c', join(dir, 'fluent-bit.conf')], { env: { ...process.env, HOSTNAME: 'test' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    fb.stdout!.on('data', (d) => (log += d));
    fb.stderr!.on('data', (d) => (log += d));
    fb.on('exit', (code) => code && code !== 0 && t.comment(`fluent-bit exited ${code}: ${log.slice(-500)}`));
    return fb;
  };
  const stopped = (p: ChildProcess) => new Promise((r) => (p.exitCode !== null ? r(null) : p.once('exit', r)));

  // Limits raised so that one 40 KB line is possible (the defaults top out near 2.6 KB).
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ limits: { groupIdBytes: 4096, accountBytes: 4096 } }));
  const svc = await runListening(['--config', join(dir, 'config.json')], { AUDIT_FILE: file }, dir);
  t.teardown(() => svc.child.kill('SIGKILL'));
  let fb = startFluentBit();
  t.teardown(() => fb.kill('SIGKILL'));
  await sleep(500);

  logrotateConfig(t, join(dir, 'logrotate-hup.conf'), file, `kill -HUP ${svc.child.pid}`);
  logrotateConfig(t, join(dir, 'logrotate-plain.conf'), file, null);
  const rotate = (hup: boolean) => execFileSync(logrotate, ['-f', '-s', join(dir, 'logrotate.state'), join(dir, hup ? 'logrotate-hup.conf' : 'logrotate-plain.conf')]);

  let stop = false;
  const load = sendMany(svc.port, { total: 10_000_000, connections: 8, stopWhen: () => stop });
  // 4,000 + 3,000 control characters, each written as 6 bytes: a line of ~42 KB.
  const long = '\u0001'.repeat(4000);
  t.equal((await post(svc.port, exitBody({ GroupId: long, Operator_Account: '\u0001'.repeat(3000), ExitMemberList: [{ Member_Account: 'long-line' }] }))).status, 200, 'a 42 KB line written');
  // Spaced past the config's Refresh_Interval (1 s): Fluent Bit finds a new file by scanning.
  for (let i = 0; i < 10; i++) {
    await sleep(1200);
    rotate(true);
  }
  for (let i = 0; i < 4; i++) {
    await sleep(1200);
    rotate(false);
  }
  await sleep(1500);
  // Fluent Bit down across one rotation, as its config's head describes.
  fb.kill('SIGTERM');
  await stopped(fb);
  await sleep(300);
  rotate(true);
  await sleep(300);
  fb = startFluentBit();
  await sleep(1500);
  stop = true;
  const sent = await load;
  svc.child.kill('SIGTERM');
  await svc.exited;

  // Wait until Fluent Bit has caught up with everything it will ship.
  const shipped = await shippedWhenSettled(out);
  fb.kill('SIGTERM');
  await stopped(fb);

  t.ok(sent.acked.length > 500, `${sent.acked.length} callbacks acknowledged`);
  const longLine = shipped.find((l) => l.includes('"member":"long-line"'));
  t.ok(longLine && longLine.length > 40000, `the long line arrived whole (${longLine?.length} bytes)`);
  // The config's catch-up: all of .1 through query, deduplicated on id with what was shipped.
  const caught = execFileSync(process.execPath, [join(ROOT, 'dist/cli.js'), 'query', `${file}.1`], { encoding: 'utf8', maxBuffer: 1 << 30 }).split('\n').filter(Boolean);
  const figures = judgeShipping(t, logs, shipped, caught);
  t.comment(`fluent-bit: ${figures.disk} lines on disk, ${figures.shipped} shipped, ${figures.left} left for the catch-up, ${figures.duplicated} duplicated`);
});
