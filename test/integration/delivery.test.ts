/**
 * Exits sent against exits recorded (issue #19), with a client that delivers as Tencent's IM
 * backend does (test/helpers/im-backend.ts: 2 s timeout, reply ignored, only a timed-out callback
 * resent, twice, 1 s apart). Faults that cannot be made real here are injected into node:fs: an
 * EIO burst, and a disk so slow that a burst goes past the queue's bound. The real full disk and
 * SIGTERM with lines queued are in test/system/full-disk.test.ts.
 */
import fs from 'node:fs';
import { pino } from 'pino';
import t from 'tap';
import { imBackend, recorded, tally } from '../helpers/im-backend.js';
import { eioWhile, serviceWithFs } from '../helpers/mock-fs.js';
import { request, testConfig } from '../helpers/service.js';


const TENCENT = { timeoutMs: 2000, resends: 2, resendGapMs: 1000 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('an EIO burst of 3 s under load: every exit sent is recorded, and every acknowledged one', { timeout: 60000 }, async (t) => {
  let eio = false;
  const { startService } = await serviceWithFs(t, { write: eioWhile(() => eio) });
  const config = testConfig(t);
  const svc = await startService(config, pino({ level: 'silent' }));
  t.teardown(() => svc.stop());
  setTimeout(() => (eio = true), 1500);
  setTimeout(() => (eio = false), 4500);
  const run = await imBackend({ port: svc.port, connections: 32, prefix: 'eio', durationMs: 7000, ...TENCENT });
  const { missing, ackedMissing, summary } = tally(run, recorded(config.audit.file));
  t.comment(summary);
  t.ok(run.timedOut > 0, `callbacks held through the burst timed out at the client (${run.timedOut}), as Tencent's would`);
  t.notOk(Object.keys(run.outcomes).some((k) => k.startsWith('503')), 'no 503 reached the client before its 2 s timeout');
  t.same(missing, [], 'every exit sent is recorded');
  t.same(ackedMissing, [], 'every acknowledged exit is recorded');
  const metrics = (await request(svc.adminPort, { method: 'GET', path: '/metrics' })).text;
  t.match(metrics, /member_exit_audit_write_retries_total [1-9]/, 'the retries are counted');
  t.match(metrics, /member_exit_audit_errors_total\{type="WRITE_FAILED"\} [1-9]/, 'the fault is named in the metrics');
});

t.test('a burst past the queue bound on a slow disk: bodies wait for room, nothing is dropped, every exit sent is recorded', { timeout: 60000 }, async (t) => {
  // 60 ms per fdatasync; the queue holds 64 KiB (about 180 callbacks): 256 connections outrun it.
  const { startService } = await serviceWithFs(t, {
    fdatasync: ((fd: number, cb: (e: NodeJS.ErrnoException | null) => void) => setTimeout(() => fs.fdatasync(fd, cb), 60)) as typeof fs.fdatasync,
  });
  const config = testConfig(t, { audit: { maxQueueBytes: 65536 } });
  const svc = await startService(config, pino({ level: 'silent' }));
  t.teardown(() => svc.stop());
  let overBound = 0;
  const watch = setInterval(() => (overBound = Math.max(overBound, svc.writer.queueBytes)), 5);
  const run = await imBackend({ port: svc.port, connections: 256, prefix: 'burst', durationMs: 4000, ...TENCENT });
  clearInterval(watch);
  const { missing, ackedMissing, summary } = tally(run, recorded(config.audit.file));
  t.comment(`${summary}; the queue peaked at ${overBound} bytes`);
  t.ok(overBound >= 65536, 'the burst reached the bound');
  t.ok(overBound < 65536 * 4, 'and memory stayed near it: bodies waited for room instead of queueing');
  t.same(missing, [], 'every exit sent is recorded');
  t.same(ackedMissing, [], 'every acknowledged exit is recorded');
  t.notOk(Object.keys(run.outcomes).some((k) => k.startsWith('4') || k.startsWith('503')), 'no callback refused, none answered 503 before the client gave up');
});

t.test('a fault is never answered before the client gave up: every 503 comes after the deadline', { timeout: 30000 }, async (t) => {
  let eio = true;
  const { startService } = await serviceWithFs(t, { write: eioWhile(() => eio) });
  const config = testConfig(t);
  const svc = await startService(config, pino({ level: 'silent' }));
  t.teardown(() => svc.stop());
  const { post, exitBody } = await import('../helpers/service.js');
  const started = Date.now();
  const replies = await Promise.all(Array.from({ length: 5 }, (_, i) => post(svc.port, exitBody({ ExitMemberList: [{ Member_Account: `held-${i}` }] }))));
  const waited = Date.now() - started;
  t.same(replies.map((r) => [r.status, r.json.ErrorCode]), Array(5).fill([503, 50301]), 'WRITE_FAILED, as before');
  t.ok(waited >= config.limits.requestDeadlineMs - 50, `but only after the hold (${waited} ms; Tencent gives up at 2000)`);
  eio = false;
  for (let i = 0; i < 100 && recorded(config.audit.file).size < 5; i++) await sleep(50);
  t.equal(recorded(config.audit.file).size, 5, 'and their lines are written once the disk takes them');
});
