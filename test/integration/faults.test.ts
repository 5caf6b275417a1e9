/**
 * The service under faults that cannot be made real here: a disk that takes 40 ms per fdatasync
 * (overload), EIO on write; and ones that can: the audit directory deleted, a file renamed while
 * the service was down.
 */
import fs from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import t from 'tap';
import { readLines } from '../helpers/lines.js';
import { memoryLog } from '../helpers/log.js';
import { sendMany } from '../helpers/load.js';
import { runListening } from '../helpers/process.js';
import { exitBody, post, request, startTest, testConfig } from '../helpers/service.js';

type ServiceModule = typeof import('../../src/service.js');

/** The service with the writer's node:fs patched (the writer is mocked explicitly: it is already loaded unmocked here). */
async function serviceWithFs(t: Tap.Test, patch: Partial<typeof fs>): Promise<ServiceModule> {
  const patched = { ...fs, ...patch };
  const writer = await t.mockImport('../../src/audit/writer.js', { 'node:fs': { ...patched, default: patched } });
  return t.mockImport<ServiceModule>('../../src/service.js', { '../../src/audit/writer.js': writer });
}

// The disk takes 200 ms per fdatasync; the deadline is 300 ms and the queue 64 KiB.
t.test('overload: far more callbacks than the disk takes; none waits past the deadline; each is written or refused', async (t) => {
  const { startService } = await serviceWithFs(t, {
    fdatasync: ((fd: number, cb: (e: NodeJS.ErrnoException | null) => void) => setTimeout(() => fs.fdatasync(fd, cb), 200)) as typeof fs.fdatasync,
  });
  const config = testConfig(t, { limits: { requestDeadlineMs: 300 }, audit: { maxQueueBytes: 65536 } });
  const svc = await startService(config, pino({ level: 'silent' }));
  t.teardown(() => svc.stop());
  const latencies: number[] = [];
  const started = new Map<string, number>();
  const statuses = new Map<number, number>();
  const sent = await sendMany(svc.port, {
    total: 1500,
    connections: 100,
    onReply: (members, reply) => {
      statuses.set(reply.json.ErrorCode ?? -1, (statuses.get(reply.json.ErrorCode ?? -1) ?? 0) + 1);
      latencies.push(performance.now() - (started.get(members[0]!) ?? performance.now()));
    },
    onSend: (members) => started.set(members[0]!, performance.now()),
  });
  latencies.sort((a, b) => a - b);
  const max = latencies.at(-1)!;
  t.comment(`replies by ErrorCode: ${JSON.stringify(Object.fromEntries(statuses))}; max latency ${max.toFixed(0)} ms`);
  t.equal(sent.errors.length, 0);
  t.ok(sent.refused.length > 0, `${sent.refused.length} refused: the disk could not keep up`);
  t.ok(sent.acked.length > 0, `${sent.acked.length} acknowledged`);
  t.ok(sent.refused.every((r) => r.status === 503 && [50302, 50303].includes(r.json.ErrorCode!)), 'refusals are 503 OVERLOADED or DEADLINE');
  t.ok(max < 300 + 400, `no request waited much past the 300 ms deadline (max ${max.toFixed(0)} ms)`);
  const members = new Set(readLines(svc.file ?? config.audit.file).map((l) => l.member));
  t.equal(sent.acked.flat().filter((m) => !members.has(m)).length, 0, 'every acknowledged line is in the file');
});

t.test('EIO on write: 503 WRITE_FAILED, nothing partial, recovers when the device does', async (t) => {
  let eio = false;
  const { startService } = await serviceWithFs(t, {
    write: ((fd: number, buf: Buffer, off: number, len: number, pos: null, cb: (e: NodeJS.ErrnoException | null, n: number) => void) => {
      if (eio) return process.nextTick(cb, Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' }), 0);
      fs.write(fd, buf, off, len, pos, cb);
    }) as typeof fs.write,
  });
  const config = testConfig(t);
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
  t.equal(records.filter((r) => r.msg === 'audit write failed').length, 1, 'logged once for the state change');
  t.equal(records.filter((r) => r.msg === 'request refused').length, 0, 'not once per request');
  eio = false;
  t.equal((await post(svc.port, exitBody({ ExitMemberList: [{ Member_Account: 'after' }] }))).status, 200);
  t.same(readLines(config.audit.file).map((l) => l.member), ['before', 'after']);
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
