import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { readLines } from '../helpers/lines.js';
import { sendMany } from '../helpers/load.js';
import { run, runListening } from '../helpers/process.js';
import { exitBody, post, request } from '../helpers/service.js';

t.test('starts on the defaults from the working directory; one info line `listening` with the port', async (t) => {
  const dir = t.testdir();
  const p = await runListening([], {}, dir);
  t.teardown(() => p.child.kill('SIGKILL'));
  t.ok(p.port > 0);
  const listening = p.logs.filter((r) => r.msg === 'listening');
  t.equal(listening.length, 1);
  t.match(listening[0], { level: 30, host: '127.0.0.1', port: p.port });
  t.equal((await post(p.port, exitBody())).status, 200);
  t.equal(readLines(join(dir, 'var/audit/member-exit.ndjson')).length, 1, 'default audit file, relative to the working directory');
  t.ok(p.logs.some((r) => r.level === 40 && r.sdkAppId === '1400000000' && /not authenticated/.test(String(r.msg))), 'warns that the app is unauthenticated');
  p.child.kill('SIGTERM');
  t.same(await p.exited, { code: 0, signal: null });
});

t.test('--config FILE and MEMBER_EXIT_AUDIT_CONFIG lay a file over the defaults; env on top', async (t) => {
  const dir = t.testdir({
    'a.json': JSON.stringify({ apps: [{ sdkAppId: '1400000777' }], audit: { file: 'from-file.ndjson' } }),
  });
  for (const [args, env] of [[['--config', join(dir, 'a.json')], {}], [[], { MEMBER_EXIT_AUDIT_CONFIG: join(dir, 'a.json') }]] as const) {
    const p = await runListening([...args], { ...env, AUDIT_FILE: join(dir, 'env.ndjson') }, dir);
    t.equal((await post(p.port, exitBody({ ExitMemberList: [{ Member_Account: `m${args.length}` }] }), { SdkAppid: '1400000777' })).status, 200);
    t.equal((await post(p.port, exitBody(), { SdkAppid: '1400000000' })).status, 403, 'apps replaced by the file');
    p.child.kill('SIGTERM');
    t.equal((await p.exited).code, 0);
  }
  t.equal(readLines(join(dir, 'env.ndjson')).length, 2, 'AUDIT_FILE beats the file');
});

t.test('a bad config stops the process with exit 2 and one message naming every problem', async (t) => {
  const dir = t.testdir({ 'bad.json': JSON.stringify({ listen: { port: 'eighty' }, audit: { durability: 'sometimes' }, colour: 'blue' }) });
  const p = run(['--config', join(dir, 'bad.json')], { SDKAPPID: '12x' }, dir);
  t.equal((await p.exited).code, 2);
  t.match(p.stderr, /^member-exit-audit: invalid config:/);
  for (const where of ['/listen/port', '/audit/durability', '/colour: unknown key', '/apps/0/sdkAppId']) t.match(p.stderr, where);
  t.equal(p.logs.length, 0, 'nothing started');
  const q = run(['--bogus'], {}, dir);
  t.equal((await q.exited).code, 2);
  t.match(q.stderr, /unknown option --bogus/);
  const r = run([], { DURABILITY: 'never', PORT: '99999' }, dir);
  t.equal((await r.exited).code, 2);
  t.match(r.stderr, /\/audit\/durability/);
  t.match(r.stderr, /\/listen\/port/);
});

t.test('SIGHUP reopens the path (logrotate without copytruncate)', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'a.ndjson');
  const p = await runListening([], { AUDIT_FILE: file }, dir);
  t.teardown(() => p.child.kill('SIGKILL'));
  await post(p.port, exitBody({ ExitMemberList: [{ Member_Account: 'one' }] }));
  renameSync(file, file + '.1');
  p.child.kill('SIGHUP');
  await p.waitFor((r) => r.msg === 'audit file open' && (p.logs.filter((x) => x.msg === 'audit file open').length === 2));
  await post(p.port, exitBody({ ExitMemberList: [{ Member_Account: 'two' }] }));
  t.same(readLines(file + '.1').map((l) => l.member), ['one']);
  t.same(readLines(file).map((l) => l.member), ['two']);
  p.child.kill('SIGTERM');
  t.equal((await p.exited).code, 0);
});

t.test('a torn tail left by a crash is cut at start, with a warn line', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'a.ndjson');
  writeFileSync(file, '{"whole":1}\n{"torn":');
  const p = await runListening([], { AUDIT_FILE: file }, dir);
  t.match(p.logs.find((r) => r.msg === 'cut torn tail of audit file'), { level: 40, bytes: 8 });
  t.equal(readFileSync(file, 'utf8'), '{"whole":1}\n');
  p.child.kill('SIGTERM');
  t.equal((await p.exited).code, 0);
});

t.test('SIGTERM under load: in-flight requests answered, every ack on disk, exit 0', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'a.ndjson');
  const p = await runListening([], { AUDIT_FILE: file }, dir);
  let gone = false;
  void p.exited.then(() => (gone = true));
  // Until the process is gone: after that every attempt is only a refused connection.
  const sending = sendMany(p.port, { total: 100000, connections: 32, stopWhen: () => gone });
  await new Promise((r) => setTimeout(r, 400));
  p.child.kill('SIGTERM');
  const [sent, exit] = await Promise.all([sending, p.exited]);
  t.same(exit, { code: 0, signal: null });
  t.ok(sent.acked.length > 50, `${sent.acked.length} acknowledged before the stop`);
  const members = new Set(readLines(file).map((l) => l.member));
  t.equal(sent.acked.flat().filter((m) => !members.has(m)).length, 0, 'every acknowledged member is in the file');
  t.equal(sent.refused.length, 0, 'no request that reached the service was refused');
  t.ok(p.logs.some((r) => r.msg === 'stopped' && r.inTime === true));
});

t.test('npm start contract: the admin listener answers health and readiness', async (t) => {
  const dir = t.testdir();
  const p = await runListening([], {}, dir);
  t.teardown(() => p.child.kill('SIGKILL'));
  const admin = (await p.waitFor((r) => r.msg === 'admin listening')).port as number;
  t.same((await request(admin, { method: 'GET', path: '/healthz' })).json, { status: 'ok' });
  t.equal((await request(admin, { method: 'GET', path: '/readyz' })).status, 200);
  t.equal((await request(p.port, { method: 'GET', path: '/healthz' })).status, 404, 'the public port exposes only the callback path');
});
