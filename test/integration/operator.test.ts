/**
 * What an operator sees of the running process (issues #22, #23): the start-up summary, the log as
 * journald reads it, the process's name, warn lines that name what was refused, and signals that
 * never leave it hanging or dead: SIGHUP while it starts, SIGTERM with no reader on stdout, a
 * second SIGTERM.
 */
import { spawn } from 'node:child_process';
import { closeSync, fstatSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { MAIN, runListening } from '../helpers/process.js';
import { exitBody, post } from '../helpers/service.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

t.test('the start-up summary: config file, apps with token counts (never a token), trail, ports, activation', async (t) => {
  const dir = t.testdir({ 'c.json': JSON.stringify({ apps: [{ sdkAppId: '1400000000', tokens: ['secret-one', 'secret-two'] }, { sdkAppId: '1400000001' }] }) });
  const p = await runListening(['--config', join(dir, 'c.json')], { AUDIT_FILE: join(dir, 'a.ndjson') }, dir);
  t.teardown(() => p.child.kill('SIGKILL'));
  const started = await p.waitFor((r) => r.msg === 'started');
  t.match(started, {
    level: 30,
    configFile: join(dir, 'c.json'),
    apps: [{ sdkAppId: '1400000000', tokens: 2 }, { sdkAppId: '1400000001', tokens: 0 }],
    trail: { file: join(dir, 'a.ndjson'), bytes: 0, durability: 'fsync', chain: true, sealed: false },
    listen: { host: '127.0.0.1', port: p.port, tls: false, activated: false },
    admin: { host: '127.0.0.1' },
    requestDeadlineMs: 3000,
    audited: ['Group.CallbackAfterMemberExit', 'Group.CallbackAfterGroupDestroyed'],
  });
  t.notMatch(JSON.stringify(p.logs), /secret-/, 'no token in any log line');
});

t.test('the process is called member-exit-audit (pgrep -f, ps), not MainThread', async (t) => {
  const p = await runListening([], {}, t.testdir());
  t.teardown(() => p.child.kill('SIGKILL'));
  const pid = p.child.pid!;
  t.equal(readFileSync(`/proc/${pid}/comm`, 'utf8').trim(), 'member-exit-aud', 'comm, as the kernel truncates it to 15 characters');
  t.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /^member-exit-audit/, 'the command line pgrep -f reads');
});

t.test('UNKNOWN_APP: the warn line and the reply name the refused SdkAppid, bounded and escaped', async (t) => {
  const p = await runListening([], {}, t.testdir());
  t.teardown(() => p.child.kill('SIGKILL'));
  const r = await post(p.port, exitBody(), { SdkAppid: '1400000999' });
  t.match(r.json, { ErrorCode: 40301, ErrorInfo: 'SdkAppid is missing or not configured: SdkAppid 1400000999' });
  const warn = await p.waitFor((l) => l.msg === 'request refused');
  t.match(warn, { level: 40, err: { code: 'UNKNOWN_APP', message: /SdkAppid 1400000999/ } });
  const evil = await post(p.port, exitBody(), { SdkAppid: `\u202e${'9'.repeat(100)}` });
  t.match(evil.json.ErrorInfo, /SdkAppid \\u202e9{31}$/, 'escaped, at most 32 characters of it');
});

t.test('under systemd (stdout is JOURNAL_STREAM): each line starts with its syslog priority, then the message', async (t) => {
  const dir = t.testdir();
  const out = join(dir, 'journal');
  writeFileSync(out, '');
  const fd = openSync(out, 'a');
  const { dev, ino } = fstatSync(fd);
  const child = spawn(process.execPath, [MAIN], { env: { PATH: process.env.PATH ?? '', PORT: '0', ADMIN_PORT: '0', JOURNAL_STREAM: `${dev}:${ino}` }, cwd: dir, stdio: ['ignore', fd, 'pipe'] });
  closeSync(fd);
  t.teardown(() => child.kill('SIGKILL'));
  let text = '';
  for (let i = 0; i < 200 && !/<6>started /.test(text); i++) {
    await sleep(25);
    text = readFileSync(out, 'utf8');
  }
  const lines = text.split('\n').filter(Boolean);
  t.match(lines.find((l) => l.includes('"msg":"listening"')), /^<6>listening \{"level":30,/, 'info: <6>, the message first, then the JSON record');
  t.match(lines.find((l) => l.includes('not authenticated')), /^<4>callbacks of this app are not authenticated: set a token \{"level":40,/, 'a warning: <4>');
  const port = JSON.parse(lines.find((l) => l.includes('"msg":"listening"'))!.replace(/^[^{]*/, '')).port as number;
  await post(port, exitBody(), { SdkAppid: '7' });
  for (let i = 0; i < 100 && !readFileSync(out, 'utf8').includes('request refused'); i++) await sleep(20);
  t.match(readFileSync(out, 'utf8'), /\n<4>request refused \{/);
  t.ok(lines.every((l) => /^<[2-7]>/.test(l)), 'every line carries a priority');
});

t.test('off systemd, stdout is the same pino JSON as ever', async (t) => {
  const p = await runListening([], { JOURNAL_STREAM: '1:1' }, t.testdir());
  t.teardown(() => p.child.kill('SIGKILL'));
  t.ok(p.logs.every((r) => typeof r.level === 'number' && r.unparsed === undefined), 'JSON lines, no prefix (JOURNAL_STREAM names another file)');
});

t.test('SIGHUP while the service starts: remembered, not fatal; it reloads once it is up', async (t) => {
  for (let round = 0; round < 3; round++) {
    const dir = t.testdir();
    const child = spawn(process.execPath, [MAIN], { env: { PATH: process.env.PATH ?? '', PORT: '0', ADMIN_PORT: '0' }, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    const exited = new Promise<number | string | null>((r) => child.on('exit', (code, signal) => r(code ?? signal)));
    // From the moment the first line of JavaScript runs (the kernel then shows SIGHUP caught;
    // Node's own start-up before it, ~25 ms, is covered by RestartForceExitStatus=SIGHUP in the
    // unit), a SIGHUP every 5 ms until it listens.
    const caught = () => {
      try {
        return (BigInt('0x' + /SigCgt:\s*([0-9a-f]+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) & 1n) === 1n;
      } catch {
        return false;
      }
    };
    while (!caught() && alive(child.pid!)) await sleep(1);
    await sleep(round * 10);
    let sent = 0;
    while (!out.includes('"msg":"listening"') && alive(child.pid!)) {
      child.kill('SIGHUP');
      sent++;
      await sleep(5);
    }
    t.ok(sent > 0 && alive(child.pid!), `round ${round + 1}: alive after ${sent} SIGHUPs during start-up`);
    for (let i = 0; i < 100 && !out.includes('SIGHUP: reopening'); i++) await sleep(10);
    t.match(out, /SIGHUP: reopening the audit file/, 'the remembered SIGHUP was done once it was up');
    child.kill('SIGTERM');
    t.equal(await exited, 0);
  }
});

t.test('SIGTERM with no reader on stdout (journald restarted, a closed pipe): the process still ends', async (t) => {
  const p = await runListening([], {}, t.testdir());
  t.teardown(() => p.child.kill('SIGKILL'));
  // Close our end of its stdout: every write it makes from now on fails with EPIPE.
  p.child.stdout!.destroy();
  await sleep(100);
  await post(p.port, exitBody(), { SdkAppid: '7' }); // a refusal, so it has something to log
  p.child.kill('SIGTERM');
  const code = await Promise.race([p.exited.then((e) => e.code), sleep(8000).then(() => 'still running')]);
  t.equal(code, 0, 'exited cleanly, not stuck retrying the write');
});

t.test('SIGTERM while the reader of stdout has stopped reading (a full pipe): the process still ends, and keeps serving meanwhile', async (t) => {
  const p = await runListening([], {}, t.testdir());
  t.teardown(() => p.child.kill('SIGKILL'));
  // Stop reading: the pipe fills (64 KiB), and every write after that would block.
  p.child.stdout!.pause();
  const ok = exitBody({ ExitMemberList: [{ Member_Account: 'still-served' }] });
  for (let i = 0; i < 400; i++) await post(p.port, exitBody(), { SdkAppid: `7${i}` }); // 400 warn lines, ~150 KB
  t.equal((await post(p.port, ok)).status, 200, 'callbacks are still answered: logging does not block');
  p.child.kill('SIGTERM');
  const code = await Promise.race([p.exited.then((e) => e.code), sleep(8000).then(() => 'still running')]);
  t.equal(code, 0, 'exited, not stuck retrying a write');
});

t.test('a second SIGTERM ends the drain at once', async (t) => {
  const p = await runListening([], {}, t.testdir());
  t.teardown(() => p.child.kill('SIGKILL'));
  // A request held open keeps the drain going (headers sent, body never finished).
  const net = await import('node:net');
  const s = net.connect(p.port, '127.0.0.1');
  s.write('POST /?SdkAppid=1400000000&CallbackCommand=Group.CallbackAfterMemberExit HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{');
  t.teardown(() => s.destroy());
  await sleep(100);
  p.child.kill('SIGTERM');
  await p.waitFor((r) => r.msg === 'draining');
  p.child.kill('SIGTERM');
  t.equal((await p.exited).code, 1, 'exit 1: the drain did not finish');
  t.ok(p.logs.some((r) => r.msg === 'second signal: exiting without waiting for the drain'));
});
