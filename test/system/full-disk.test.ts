/**
 * Full disk, for real: the audit file on a tmpfs filled to its last KiB. Callbacks are held (no
 * reply before Tencent's 2 s timeout has passed), no partial line stays, /readyz says not ready,
 * the process stays up, and once space is back everything it took in is written, with no restart.
 * Counted as exits sent against exits recorded, with a client that delivers as the IM backend does
 * (test/helpers/im-backend.ts), for 3 s and 30 s of full disk under load, and with a SIGTERM that
 * comes while lines are queued (issue #19).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { holdSocket } from '../helpers/held.js';
import { imBackend, recorded, tally } from '../helpers/im-backend.js';
import { parseLines } from '../helpers/lines.js';
import { runListening } from '../helpers/process.js';
import { exitBody, post, request } from '../helpers/service.js';
// Without root there is no tmpfs; the same contract is shown by fault injection in test/audit/writer.test.ts.
import { fill, tmpfs } from '../helpers/tmpfs.js';

const TENCENT = { timeoutMs: 2000, resends: 2, resendGapMs: 1000 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('ENOSPC on a real filesystem: held, no partial line, not ready, recovers by itself and writes what it held', async (t) => {
  const mnt = tmpfs(t, '256k');
  if (!mnt) return;
  const file = join(mnt, 'member-exit.ndjson');
  const cfg = join(mnt, '..', 'config.json');
  writeFileSync(cfg, JSON.stringify({ limits: { requestDeadlineMs: 500 } }));
  const p = await runListening(['--config', cfg], { AUDIT_FILE: file }, mnt);
  t.teardown(() => p.child.kill('SIGKILL'));
  const admin = (await p.waitFor((r) => r.msg === 'admin listening')).port as number;

  const members = (n: number) => Array.from({ length: 10 }, (_, k) => ({ Member_Account: `full-${n}-${k}` }));
  const acked: string[] = [];
  t.equal((await post(p.port, exitBody({ ExitMemberList: members(-1) }))).status, 200, 'one callback before the disk fills');
  acked.push(...members(-1).map((m) => m.Member_Account));
  const free = fill(mnt);
  const held: string[] = [];
  for (let n = 0; n < 100 && held.length < 60; n++) {
    const started = Date.now();
    const reply = await post(p.port, exitBody({ ExitMemberList: members(n), EventTime: 1700000000000 + n }));
    if (reply.status === 200) acked.push(...members(n).map((m) => m.Member_Account));
    else {
      held.push(...members(n).map((m) => m.Member_Account));
      t.same({ status: reply.status, code: reply.json.ErrorCode, info: reply.json.ErrorInfo }, { status: 503, code: 50301, info: 'audit write failed' }, 'a full disk: 503 WRITE_FAILED');
      t.ok(Date.now() - started >= 450, `only at the deadline (${Date.now() - started} ms)`);
    }
  }
  t.equal(held.length, 60, `held once the disk was full (after ${acked.length} lines)`);
  const text = readFileSync(file, 'utf8');
  t.ok(text.endsWith('\n'), 'no partial line stays in the file');
  t.same(parseLines(text, file).map((l) => l.member), acked, 'exactly the acknowledged lines so far');
  t.equal((await request(admin, { method: 'GET', path: '/readyz' })).status, 503, '/readyz: not ready');
  t.equal((await request(admin, { method: 'GET', path: '/healthz' })).status, 200, 'the process is up');
  t.equal(p.logs.filter((r) => r.msg === 'audit write failed; keeping the lines and retrying').length, 1, 'one error line for the state change');
  t.match(p.logs.find((r) => r.msg === 'audit write failed; keeping the lines and retrying'), { level: 50, err: { code: 'ENOSPC' } });

  free();
  const after = await post(p.port, exitBody({ ExitMemberList: [{ Member_Account: 'after-space-freed' }] }));
  t.equal(after.status, 200, 'the next callback succeeds with no restart');
  t.equal((await request(admin, { method: 'GET', path: '/readyz' })).status, 200, 'ready again');
  t.ok(p.logs.some((r) => r.msg === 'audit writes recovered'));
  t.same(parseLines(readFileSync(file, 'utf8'), file).map((l) => l.member), [...acked, ...held, 'after-space-freed'], 'what it held, then the next one, each once');
  p.child.kill('SIGTERM');
  t.equal((await p.exited).code, 0);
});

for (const seconds of [3, 30]) {
  t.test(`the disk full for ${seconds} s under load: every exit sent is recorded`, { timeout: 120000 }, async (t) => {
    const mnt = tmpfs(t, '64m');
    if (!mnt) return;
    const file = join(mnt, 'member-exit.ndjson');
    const p = await runListening([], { AUDIT_FILE: file, LOG_LEVEL: 'info' }, mnt);
    t.teardown(() => p.child.kill('SIGKILL'));
    let free: (() => void) | null = null;
    const fault = (async () => {
      await sleep(2000);
      free = fill(mnt);
      await sleep(seconds * 1000);
      free();
    })();
    const run = await imBackend({ port: p.port, connections: 16, prefix: `full${seconds}`, durationMs: seconds * 1000 + 6000, ...TENCENT });
    await fault;
    // Resends are over; the last lines held reach the disk within a retry.
    await sleep(1000);
    const { missing, ackedMissing, twice, summary } = tally(run, recorded(file));
    t.comment(summary);
    t.ok(run.timedOut > 0, 'callbacks were held past the client\'s timeout while the disk was full');
    t.same(missing, [], 'every exit sent is recorded');
    t.same(ackedMissing, [], 'every acknowledged exit is recorded');
    t.equal(twice, 0, 'none twice: resends of what was held were recognised by their ids');
    p.child.kill('SIGTERM');
    t.equal((await p.exited).code, 0, 'a clean stop');
  });
}

t.test('SIGTERM while lines are queued on a full disk, the disk back within the grace, restarted on the held socket: every exit sent is recorded', { timeout: 120000 }, async (t) => {
  const mnt = tmpfs(t, '64m');
  if (!mnt) return;
  const file = join(mnt, 'member-exit.ndjson');
  const held = await holdSocket(t, { AUDIT_FILE: file });
  const first = await held.start();
  let free: (() => void) | null = null;
  const steps = (async () => {
    await sleep(1500);
    free = fill(mnt);
    await sleep(1500);
    // systemctl restart, with lines queued: the old process keeps retrying through its grace.
    process.kill(first, 'SIGTERM');
    await sleep(1000);
    free();
    await held.exited(first);
    await held.start();
  })();
  const run = await imBackend({ port: held.port, connections: 16, prefix: 'term', durationMs: 9000, ...TENCENT });
  await steps;
  await sleep(1000);
  const last = held.pids.at(-1)!;
  process.kill(last, 'SIGTERM');
  await held.exited(last);
  const { missing, ackedMissing, summary } = tally(run, recorded(file));
  t.comment(summary);
  const stopped = held.logs.filter((r) => r.msg === 'stopped');
  t.match(stopped, [{ inTime: true }, { inTime: true }], 'both processes stopped cleanly: the first wrote its queue within its grace');
  t.notOk(held.logs.some((r) => r.msg === 'audit lines not written before exit: their callers were not acknowledged'), 'nothing left unwritten at exit');
  t.same(missing, [], 'every exit sent is recorded');
  t.same(ackedMissing, [], 'every acknowledged exit is recorded');
});
