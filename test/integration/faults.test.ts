/**
 * The service under faults that cannot be made real here: a disk that takes 200 ms per fdatasync
 * (overload), EIO on write; and ones that can: the audit directory deleted, a file renamed while
 * the service was down. Exits sent against exits recorded, with a client that behaves like the IM
 * backend, are in delivery.test.ts.
 */
import fs from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import t from 'tap';
import { readLines } from '../helpers/lines.js';
import { memoryLog } from '../helpers/log.js';
import { eioWhile, serviceWithFs } from '../helpers/mock-fs.js';
import { sendMany } from '../helpers/load.js';
import { runListening } from '../helpers/process.js';
import { exitBody, post, request, startTest, testConfig } from '../helpers/service.js';

// The disk takes 200 ms per fdatasync; the deadline is 300 ms and the queue 64 KiB.
t.test('overload: far more callbacks than the disk takes; a 503 only after the deadline; nothing taken in is dropped', async (t) => {
  const { startService } = await serviceWithFs(t, {
    fdatasync: ((fd: number, cb: (e: NodeJS.ErrnoException | null) => void) => setTimeout(() => fs.fdatasync(fd, cb), 200)) as typeof fs.fdatasync,
  });
  const config = testConfig(t, { limits: { requestDeadlineMs: 300 }, audit: { maxQueueBytes: 65536 } });
  const svc = await startService(config, pino({ level: 'silent' }));
  const started = new Map<string, number>();
  const early: number[] = [];
  const byCode = new Map<number, string[]>();
  const sent = await sendMany(svc.port, {
    total: 1500,
    connections: 100,
    onSend: (members) => started.set(members[0]!, performance.now()),
    onReply: (members, reply) => {
      const code = reply.json.ErrorCode ?? -1;
      byCode.set(code, [...(byCode.get(code) ?? []), ...members]);
      const waited = performance.now() - started.get(members[0]!)!;
      if (code !== 0 && waited < 300 - 5) early.push(waited);
    },
  });
  t.comment(`replies by ErrorCode: ${JSON.stringify(Object.fromEntries([...byCode].map(([c, m]) => [c, m.length])))}`);
  t.equal(sent.errors.length, 0);
  t.ok(sent.refused.length > 0, `${sent.refused.length} answered 503: the disk could not keep up`);
  t.ok(sent.acked.length > 0, `${sent.acked.length} acknowledged`);
  t.ok(sent.refused.every((r) => r.status === 503 && [50302, 50303].includes(r.json.ErrorCode!)), 'the faults are 503 OVERLOADED (body never read) or DEADLINE (queued)');
  t.same(early, [], 'no 503 before the deadline');
  // Every callback taken in is written, the ones answered DEADLINE too, once the disk catches up.
  await svc.stop();
  const members = new Set(readLines(config.audit.file).map((l) => l.member));
  t.equal(sent.acked.flat().filter((m) => !members.has(m)).length, 0, 'every acknowledged line is in the file');
  t.equal((byCode.get(50303) ?? []).filter((m) => !members.has(m)).length, 0, `every DEADLINE one too (${byCode.get(50303)?.length ?? 0} members)`);
  t.equal((byCode.get(50302) ?? []).filter((m) => members.has(m)).length, 0, 'no OVERLOADED one: its body was never read');
});

t.test('EIO on write: held, then 503 WRITE_FAILED at the deadline; nothing partial; written once the device recovers', async (t) => {
  let eio = false;
  const { startService } = await serviceWithFs(t, { write: eioWhile(() => eio) });
  const config = testConfig(t, { limits: { requestDeadlineMs: 300 } });
  const { log, records } = memoryLog();
  const svc = await startService(config, log);
  t.teardown(() => svc.stop());
  t.equal((await post(svc.port, exitBody({ ExitMemberList: [{ Member_Account: 'before' }] }))).status, 200);
  eio = true;
  for (let i = 0; i < 3; i++) {
    const r = await post(svc.port, exitBody({ ExitMemberList: [{ Member_Account: `during-${i}` }] }));
    t.same({ status: r.status, code: r.json.ErrorCode }, { status: 503, code: 50301 });
  }
  t.equal((await request(svc.adminPort, { method: 'GET', path: '/readyz' })).status, 503);
  t.equal(records.filter((r) => r.msg === 'audit write failed; keeping the lines and retrying').length, 1, 'logged once for the state change');
  t.equal(records.filter((r) => r.msg === 'request refused').length, 0, 'not once per request');
  t.same(readLines(config.audit.file).map((l) => l.member), ['before'], 'nothing partial while it fails');
  eio = false;
  for (let i = 0; i < 100 && readLines(config.audit.file).length < 4; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal((await post(svc.port, exitBody({ ExitMemberList: [{ Member_Account: 'after' }] }))).status, 200);
  t.same(readLines(config.audit.file).map((l) => l.member), ['before', 'during-0', 'during-1', 'during-2', 'after'], 'the held ones written first, in order');
  t.match(records.find((r) => r.msg === 'audit writes recovered'), { after: 'WRITE_FAILED' });
});

t.test('the audit directory deleted: noticed, recreated, no restart', async (t) => {
  const svc = await startTest(t, { audit: { rotateCheckMs: 100 } });
  await post(svc.port, exitBody({ ExitMemberList: [{ Member_Account: 'one' }] }));
  fs.rmSync(join(svc.file, '..'), { recursive: true });
  await new Promise((r) => setTimeout(r, 300));
  t.equal((await post(svc.port, exitBody({ ExitMemberList: [{ Member_Account: 'two' }] }))).status, 200);
  t.same(readLines(svc.file).map((l) => l.member), ['two'], 'a new directory and file at the path');
});

t.test('a file renamed while the service was down is handled at start', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'member-exit.ndjson');
  const first = await runListening([], { AUDIT_FILE: file }, dir);
  await post(first.port, exitBody({ ExitMemberList: [{ Member_Account: 'before-rotation' }] }));
  first.child.kill('SIGTERM');
  await first.exited;
  fs.renameSync(file, `${file}.1`);
  fs.appendFileSync(`${file}.1`, '{"torn":'); // even a torn tail in the rotated file is left to its reader
  const second = await runListening([], { AUDIT_FILE: file }, dir);
  await post(second.port, exitBody({ ExitMemberList: [{ Member_Account: 'after-rotation' }] }));
  second.child.kill('SIGTERM');
  t.equal((await second.exited).code, 0);
  t.same(readLines(file).map((l) => l.member), ['after-rotation'], 'a new file at the path');
  t.match(fs.readFileSync(`${file}.1`, 'utf8'), /"member":"before-rotation".*\n\{"torn":$/s, 'the rotated file is not touched');
});
