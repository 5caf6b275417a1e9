/**
 * Full disk, for real: the audit file on a tiny tmpfs. Callbacks that do not fit get 503
 * WRITE_FAILED, no partial line stays, /readyz says not ready, the process stays up, and once
 * space is freed the next callbacks succeed with no restart.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseLines } from '../helpers/lines.js';
import { runListening } from '../helpers/process.js';
import { exitBody, post, request } from '../helpers/service.js';

function tryMount(dir: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', dir], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

t.test('ENOSPC on a real filesystem: 503, no partial line, not ready, recovers by itself', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mea-full-'));
  const mnt = join(dir, 'mnt');
  mkdirSync(mnt);
  if (!tryMount(mnt)) {
    // Mounting needs root (CI runs as root); the same contract is shown by fault injection in test/audit/writer.test.ts.
    if (process.env.CI) t.fail('cannot mount a tmpfs in CI');
    else t.skip('cannot mount a tmpfs here (not root)');
    rmSync(dir, { recursive: true, force: true });
    return;
  }
  t.teardown(() => {
    execFileSync('umount', ['-l', mnt]);
    rmSync(dir, { recursive: true, force: true });
  });
  const file = join(mnt, 'member-exit.ndjson');
  const p = await runListening([], { AUDIT_FILE: file }, dir);
  t.teardown(() => p.child.kill('SIGKILL'));
  const admin = (await p.waitFor((r) => r.msg === 'admin listening')).port as number;

  // Leave about 8 KiB free, then write callbacks of ~3.5 KiB (10 members) until the disk is full.
  const filler = join(mnt, 'filler');
  let size = 240 * 1024;
  for (;;) {
    try {
      writeFileSync(filler, Buffer.alloc(size));
      break;
    } catch {
      size -= 4096;
    }
  }
  const members = (n: number) => Array.from({ length: 10 }, (_, k) => ({ Member_Account: `full-${n}-${k}` }));
  const acked: string[] = [];
  let refused = 0;
  let reply;
  for (let n = 0; n < 100 && refused < 3; n++) {
    reply = await post(p.port, exitBody({ ExitMemberList: members(n) }));
    if (reply.status === 200) acked.push(...members(n).map((m) => m.Member_Account));
    else {
      refused++;
      t.same({ status: reply.status, code: reply.json.ErrorCode, info: reply.json.ErrorInfo }, { status: 503, code: 50301, info: 'audit write failed' }, 'a full disk answers 503 WRITE_FAILED');
    }
  }
  t.equal(refused, 3, `refused once the disk was full (after ${acked.length} lines)`);
  const text = readFileSync(file, 'utf8');
  t.ok(text.endsWith('\n'), 'no partial line stays in the file');
  t.same(parseLines(text, file).map((l) => l.member), acked, 'exactly the acknowledged lines');
  t.equal((await request(admin, { method: 'GET', path: '/readyz' })).status, 503, '/readyz: not ready');
  t.equal((await request(admin, { method: 'GET', path: '/healthz' })).status, 200, 'the process is up');
  t.equal(p.logs.filter((r) => r.msg === 'audit write failed').length, 1, 'one error line for the state change');
  t.match(p.logs.find((r) => r.msg === 'audit write failed'), { level: 50, err: { code: 'ENOSPC' } });

  unlinkSync(filler);
  const after = await post(p.port, exitBody({ ExitMemberList: [{ Member_Account: 'after-space-freed' }] }));
  t.equal(after.status, 200, 'the next callback succeeds with no restart');
  t.equal((await request(admin, { method: 'GET', path: '/readyz' })).status, 200, 'ready again');
  t.ok(p.logs.some((r) => r.msg === 'audit writes recovered'));
  t.equal(parseLines(readFileSync(file, 'utf8'), file).at(-1)?.member, 'after-space-freed');
  p.child.kill('SIGTERM');
  t.equal((await p.exited).code, 0);
});
