/**
 * The audit path (issue #12 item 10): a symlink in its last component, or anything but a regular
 * file, is refused with a clear start-up error, and nothing at the other end is touched.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import t from 'tap';
import { startService } from '../../src/service.js';
import { run } from '../helpers/process.js';
import { exitBody, post, startTest, testConfig } from '../helpers/service.js';

t.test('a symlink at the path: no start, and the file it points at is left as it was', async (t) => {
  const dir = t.testdir({ 'foreign.txt': 'a line\n{"half a line' });
  const config = testConfig(t, { audit: { file: join(dir, 'member-exit.ndjson') } });
  symlinkSync(join(dir, 'foreign.txt'), config.audit.file);
  await t.rejects(startService(config, pino({ level: 'silent' })), { code: 'ELOOP', message: /member-exit\.ndjson: is a symbolic link; name the file itself/ });
  t.equal(readFileSync(join(dir, 'foreign.txt'), 'utf8'), 'a line\n{"half a line', 'not truncated by the torn-tail cut');

  const p = run([], { AUDIT_FILE: config.audit.file, PORT: '0', ADMIN_PORT: '0' }, dir);
  t.equal((await p.exited).code, 1, 'the process exits 1');
  t.match(p.logs.find((r) => r.msg === 'cannot start'), { level: 60, err: { code: 'ELOOP', message: /is a symbolic link/ } });
});

t.test('a FIFO at the path: no start, and its reader gets nothing', async (t) => {
  const dir = t.testdir();
  const config = testConfig(t, { audit: { file: join(dir, 'member-exit.ndjson') } });
  execFileSync('mkfifo', [config.audit.file]);
  await t.rejects(startService(config, pino({ level: 'silent' })), { code: 'ENOTREG', message: /is not a regular file/ });
});

t.test('a symlink put in place at rotation: not written through; NOT_READY until a real file is back', async (t) => {
  const svc = await startTest(t, { audit: { rotateCheckMs: 50 } });
  t.equal((await post(svc.port, exitBody())).status, 200);
  const dir = join(svc.file, '..');
  writeFileSync(join(dir, 'foreign.txt'), 'untouched\n');
  renameSync(svc.file, `${svc.file}.1`);
  symlinkSync(join(dir, 'foreign.txt'), svc.file);
  svc.reload();
  await new Promise((r) => setTimeout(r, 200));
  const res = await post(svc.port, exitBody({ ExitMemberList: [{ Member_Account: 'after' }] }));
  t.equal(res.json.ErrorCode, 50304, 'NOT_READY');
  t.equal(readFileSync(join(dir, 'foreign.txt'), 'utf8'), 'untouched\n');
});
