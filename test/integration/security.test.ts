import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { sign } from '../../src/http/signature.js';
import { startService } from '../../src/service.js';
import { readLines } from '../helpers/lines.js';
import { memoryLog } from '../helpers/log.js';
import { exitBody, post, request, testConfig } from '../helpers/service.js';

const TOKEN_A = 'token-of-app-a';
const TOKEN_B = 'token-of-app-b';
const nowSec = () => String(Math.floor(Date.now() / 1000));
const signed = (token: string, time = nowSec()) => ({ RequestTime: time, Sign: sign(token, time) });

async function startLogged(t: Tap.Test, over: Record<string, unknown>) {
  const config = testConfig(t, over);
  const { log, records } = memoryLog();
  const svc = await startService(config, log);
  t.teardown(() => svc.stop());
  return Object.assign(svc, { file: config.audit.file, records });
}

t.test('signed callbacks: several apps, each with its own token', async (t) => {
  const svc = await startLogged(t, { apps: [{ sdkAppId: '1400000000', token: TOKEN_A }, { sdkAppId: '1400000001', token: TOKEN_B }] });
  t.equal((await post(svc.port, exitBody(), { ...signed(TOKEN_A) })).status, 200, 'app A with its token');
  t.equal((await post(svc.port, exitBody(), { SdkAppid: '1400000001', ...signed(TOKEN_B) })).status, 200, 'app B with its token');
  const cases: [string, Record<string, string>, number][] = [
    ['unsigned', {}, 40101],
    ['no RequestTime', { Sign: sign(TOKEN_A, nowSec()) }, 40101],
    ['no Sign', { RequestTime: nowSec() }, 40101],
    ['uppercase sign', { RequestTime: nowSec(), Sign: sign(TOKEN_A, nowSec()).toUpperCase() }, 40102],
    ['stale', signed(TOKEN_A, String(Math.floor(Date.now() / 1000) - 61)), 40103],
    ['future', signed(TOKEN_A, String(Math.floor(Date.now() / 1000) + 120)), 40103],
    ["app B's token for app A", signed(TOKEN_B), 40104],
    ['sign of another time', { RequestTime: nowSec(), Sign: sign(TOKEN_A, String(Number(nowSec()) - 1)) }, 40104],
  ];
  for (const [name, params, code] of cases) {
    const res = await post(svc.port, exitBody(), params);
    t.equal(res.status, 401, name);
    t.equal(res.json.ErrorCode, code, name);
  }
  t.equal(readLines(svc.file).length, 2, 'only the two signed callbacks were written');
  const warn = svc.records.filter((r) => r.msg === 'request refused');
  t.equal(warn.length, cases.length, 'each refusal logged once');
  const logged = JSON.stringify(svc.records);
  t.notMatch(logged, TOKEN_A, 'the token is never logged');
  t.notMatch(logged, TOKEN_B);
  t.match(warn[4], { level: 40, err: { code: 'AUTH_STALE' }, sdkAppId: '1400000000' });
});

t.test('allowlist of sources; X-Forwarded-For only from a trusted proxy', async (t) => {
  const svc = await startLogged(t, { allowSources: ['10.0.0.0/8', '2001:db8::/32'] });
  const res = await post(svc.port, exitBody());
  t.equal(res.status, 403);
  t.equal(res.json.ErrorCode, 40302);
  const spoof = await request(svc.port, { path: '/?SdkAppid=1400000000&CallbackCommand=Group.CallbackAfterMemberExit', headers: { 'x-forwarded-for': '10.1.1.1' }, body: JSON.stringify(exitBody()) });
  t.equal(spoof.status, 403, 'X-Forwarded-For from an untrusted peer is ignored');
  await svc.stop();

  const proxied = await startLogged(t, { allowSources: ['10.0.0.0/8'], trustProxy: ['127.0.0.1'] });
  const via = (xff: string) => request(proxied.port, { path: '/?SdkAppid=1400000000&CallbackCommand=Group.CallbackAfterMemberExit', headers: { 'x-forwarded-for': xff }, body: JSON.stringify(exitBody()) });
  t.equal((await via('10.1.1.1')).status, 200, 'client behind the trusted proxy');
  t.equal((await via('10.1.1.1, 203.0.113.5')).status, 403, 'the rightmost untrusted hop counts');
  t.equal(readLines(proxied.file).length, 1);
  t.equal(readLines(svc.file).length, 0);
});

t.test('limits: members per callback and string length', async (t) => {
  const svc = await startLogged(t, { limits: { stringChars: 32 }, audit: { commands: { 'Group.CallbackAfterMemberExit': { members: 5 } } } });
  const many = await post(svc.port, exitBody({ ExitMemberList: Array.from({ length: 6 }, (_, i) => ({ Member_Account: `m${i}` })) }));
  t.equal(many.status, 400);
  t.match(many.json.ErrorInfo, /ExitMemberList: must not have more than 5/);
  const long = await post(svc.port, exitBody({ GroupId: 'g'.repeat(33) }));
  t.match(long.json.ErrorInfo, /GroupId: must not have more than 32/);
  const longQuery = await post(svc.port, exitBody(), { ClientIP: 'x'.repeat(33) });
  t.equal(longQuery.json.ErrorCode, 40006);
  t.equal(statSync(svc.file).size, 0);
});

t.test('slow clients: a request whose headers never finish is cut off', async (t) => {
  const svc = await startLogged(t, { limits: { headersTimeoutMs: 300, requestTimeoutMs: 600 } });
  const start = Date.now();
  const reply = await new Promise<string>((resolve) => {
    const s = net.connect(svc.port, '127.0.0.1', () => s.write('POST /?SdkAppid=1400000000 HTTP/1.1\r\nHost: x\r\n'));
    let got = '';
    s.on('data', (d) => (got += d));
    s.on('close', () => resolve(got));
  });
  const took = Date.now() - start;
  t.match(reply, /^HTTP\/1\.1 408/, 'answered 408 Request Timeout');
  t.ok(took < 3000, `closed after ${took} ms`);
  const slowBody = await new Promise<string>((resolve) => {
    const s = net.connect(svc.port, '127.0.0.1', () => {
      s.write('POST /?SdkAppid=1400000000&CallbackCommand=Group.CallbackAfterMemberExit HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"Callback');
    });
    let got = '';
    s.on('data', (d) => (got += d));
    s.on('close', () => resolve(got));
  });
  t.notMatch(slowBody, /^HTTP\/1\.1 200/, 'a body that never finishes is never acknowledged');
  t.equal(statSync(svc.file).size, 0);
  t.equal((await post(svc.port, exitBody())).status, 200, 'the service is unharmed');
});

t.test('max concurrent connections', async (t) => {
  const svc = await startLogged(t, { limits: { maxConnections: 2 } });
  const sockets = await Promise.all([0, 1, 2].map(() => new Promise<net.Socket>((resolve) => {
    const s = net.connect(svc.port, '127.0.0.1', () => resolve(s));
  })));
  const closed = await new Promise<boolean>((resolve) => {
    sockets[2]!.on('close', () => resolve(true));
    setTimeout(() => resolve(false), 2000);
  });
  t.ok(closed, 'the third connection is dropped');
  for (const s of sockets) s.destroy();
});

t.test('native HTTPS, and SIGHUP-style reload of the certificate', async (t) => {
  const dir = t.testdir();
  const makeCert = (name: string) => {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-days', '1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  };
  makeCert('first');
  const svc = await startLogged(t, { tls: { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') } });
  const call = () =>
    new Promise<{ status: number; cn: string }>((resolve, reject) => {
      const req = https.request(
        { host: '127.0.0.1', port: svc.port, method: 'POST', path: '/?SdkAppid=1400000000&CallbackCommand=Group.CallbackAfterMemberExit', rejectUnauthorized: false, agent: false },
        (res) => {
          const cn = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().subject.CN as string;
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, cn }));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify(exitBody()));
    });
  t.same(await call(), { status: 200, cn: 'first' });
  makeCert('second');
  svc.reload();
  t.same(await call(), { status: 200, cn: 'second' }, 'new connections get the new certificate');
  t.equal(readLines(svc.file).length, 2);
  t.ok(svc.records.some((r) => r.msg === 'TLS certificate reloaded'));
});
