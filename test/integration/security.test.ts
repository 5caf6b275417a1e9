import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { sign } from '../../src/http/signature.js';
import { readLines } from '../helpers/lines.js';
import { exitBody, post, request, startLogged } from '../helpers/service.js';

const TOKEN_A = 'token-of-app-a';
const TOKEN_B = 'token-of-app-b';
const nowSec = () => String(Math.floor(Date.now() / 1000));
const signed = (token: string, time = nowSec()) => ({ RequestTime: time, Sign: sign(token, time) });


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

t.test('a token file not in place: the service starts, warns once, and holds the app\'s callbacks until Tencent gave up, then 503 (fail closed)', async (t) => {
  const missing = join(t.testdir(), 'not-yet');
  const svc = await startLogged(t, { apps: [{ sdkAppId: '1400000000', tokenFile: missing }, { sdkAppId: '1400000001', token: TOKEN_B }], limits: { requestDeadlineMs: 300 } });
  const warned = svc.records.filter((r) => String(r.msg).startsWith('token file missing'));
  t.equal(warned.length, 1, 'one warning at start');
  t.match(warned[0], { level: 40, sdkAppId: '1400000000', missing: [missing] });
  t.notOk(svc.records.some((r) => r.msg === 'callbacks of this app are not authenticated: set a token'), 'not mistaken for an app without authentication');
  const started = Date.now();
  t.match((await post(svc.port, exitBody(), {})).json, { ActionStatus: 'FAIL', ErrorCode: 50306, ErrorInfo: "the app's token file is not in place" }, 'unsigned: not taken');
  t.ok(Date.now() - started >= 290, 'only at the deadline: Tencent resends what timed out, and the token may be in place by then');
  t.match((await post(svc.port, exitBody(), signed(TOKEN_A))).json, { ActionStatus: 'FAIL', ErrorCode: 50306 }, 'signed with any token: not taken');
  const other = await post(svc.port, { CallbackCommand: 'Group.CallbackBeforeSendMsg' }, { CallbackCommand: 'Group.CallbackBeforeSendMsg' });
  t.match(other, { status: 503, json: { ErrorCode: 50306 } }, 'a command that is not audited is not held');
  t.equal((await post(svc.port, exitBody(), { SdkAppid: '1400000001', ...signed(TOKEN_B) })).status, 200, 'another app is unaffected');
  t.equal(readLines(svc.file).length, 1, 'nothing of the refused app was written');
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

t.test('limits: members per callback, and every string limit in bytes of UTF-8, body and query alike', async (t) => {
  const svc = await startLogged(t, { limits: { groupIdBytes: 32, accountBytes: 16, wordBytes: 12, clientIpBytes: 20 }, audit: { commands: { 'Group.CallbackAfterMemberExit': { members: 5 } } } });
  const many = await post(svc.port, exitBody({ ExitMemberList: Array.from({ length: 6 }, (_, i) => ({ Member_Account: `m${i}` })) }));
  t.equal(many.status, 400);
  t.match(many.json.ErrorInfo, /ExitMemberList: must not have more than 5/);
  t.match((await post(svc.port, exitBody({ GroupId: 'g'.repeat(33) }))).json.ErrorInfo, /GroupId: must not have more than 32/);
  // Issue #12 item 11: 11 characters, 33 bytes: counted in bytes, not code points.
  t.match((await post(svc.port, exitBody({ GroupId: '中'.repeat(11) }))).json.ErrorInfo, /\/GroupId: must not be longer than 32 bytes/);
  t.equal((await post(svc.port, exitBody({ GroupId: '中'.repeat(10) }))).status, 200, '30 bytes: accepted');
  t.match((await post(svc.port, exitBody({ ExitMemberList: [{ Member_Account: 'é'.repeat(9) }] }))).json.ErrorInfo, /\/ExitMemberList\/0\/Member_Account: must not be longer than 16 bytes/);
  t.match((await post(svc.port, exitBody({ Type: '😀😀😀😀' }))).json.ErrorInfo, /\/Type: must not be longer than 12 bytes/, '4 emoji are 16 bytes (8 UTF-16 units)');
  const longQuery = await post(svc.port, exitBody(), { ClientIP: 'x'.repeat(21) });
  t.equal(longQuery.json.ErrorCode, 40006);
  t.match(longQuery.json.ErrorInfo, /ClientIP is longer than 20 bytes/);
  t.match((await post(svc.port, exitBody(), { OptPlatform: 'é'.repeat(7) })).json.ErrorInfo, /OptPlatform is longer than 12 bytes/, '7 characters, 14 bytes');
  t.equal((await post(svc.port, exitBody(), { OptPlatform: 'é'.repeat(6) })).status, 200);
  t.equal(readLines(svc.file).length, 2, 'only the two within their limits were written');
});

t.test('the output bound: a small body cannot ask for a huge write (413 OUTPUT_TOO_LARGE, never a 503)', async (t) => {
  // Issue #12 item 1: 500 members under shared fields that escape to 6 bytes a character.
  const svc = await startLogged(t, { limits: { groupIdBytes: 1024, accountBytes: 1024, wordBytes: 1024, clientIpBytes: 1024 } });
  const wide = '\u2028'.repeat(300);
  const body = JSON.stringify(exitBody({ GroupId: wide, Type: wide, Operator_Account: wide, ExitMemberList: Array.from({ length: 500 }, (_, i) => ({ Member_Account: `m${i}` })) }));
  const res = await post(svc.port, body, { ClientIP: '\u0001'.repeat(300), OptPlatform: '\u0001'.repeat(300) });
  t.equal(res.status, 413);
  t.equal(res.json.ErrorCode, 41302);
  t.match(res.json.ErrorInfo, /: at least \d+ bytes of lines \(500 members\), over the bound of \d+ for this callback$/, "refused on the estimate: nothing escaped");
  t.equal(statSync(svc.file).size, 0, 'nothing built, nothing written');
  // Every retry gets the same 4xx: it can never fit.
  t.equal((await post(svc.port, body, { ClientIP: '\u0001'.repeat(300), OptPlatform: '\u0001'.repeat(300) })).status, 413);
  // The same members under ordinary fields: ~200 KB of lines from a 12 KB body, within the bound.
  t.equal((await post(svc.port, exitBody({ ExitMemberList: Array.from({ length: 500 }, (_, i) => ({ Member_Account: `m${i}` })) }))).status, 200);
  t.equal(readLines(svc.file).length, 500);
});

t.test('the output bound never refuses what cannot fit in the queue as a 503', async (t) => {
  const svc = await startLogged(t, { audit: { maxQueueBytes: 65536 } });
  // 1,000 ordinary members: ~360 KB of lines, more than the whole queue: 413, not an endless 503.
  const res = await post(svc.port, exitBody({ ExitMemberList: Array.from({ length: 1000 }, (_, i) => ({ Member_Account: `member-${i}` })) }));
  t.equal(res.status, 413);
  t.equal(res.json.ErrorCode, 41302);
  t.match(res.json.ErrorInfo, /over the bound of 65536/);
});

t.test('a refusal of a huge bad list costs no more than a check: the first bad member is named', async (t) => {
  const svc = await startLogged(t, {});
  const list = Array.from({ length: 10000 }, (_, i) => ({ Member_Account: i === 7777 ? 42 : `m${i}` }));
  const res = await post(svc.port, exitBody({ ExitMemberList: list, Type: 7 }));
  t.equal(res.json.ErrorCode, 40003);
  t.match(res.json.ErrorInfo, '/ExitMemberList/7777/Member_Account: must be string');
  t.match(res.json.ErrorInfo, '/Type: must be string');
  const all = await post(svc.port, exitBody({ ExitMemberList: Array.from({ length: 10000 }, () => ({ Member_Account: 1 })) }));
  t.match(all.json.ErrorInfo, /^callback body does not match the schema: \/ExitMemberList\/0\/Member_Account: must be string$/, 'one problem named, not 10,000');
  const over = await post(svc.port, exitBody({ ExitMemberList: Array.from({ length: 10001 }, (_, i) => ({ Member_Account: `m${i}` })) }));
  t.match(over.json.ErrorInfo, /\/ExitMemberList: must not have more than 10000 items/);
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

t.test('native HTTPS, and SIGHUP-style reload of the certificate', async (t) => {
  const dir = t.testdir();
  const makeCert = (name: string) => {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-days', '1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  };
  makeCert('first');
  const svc = await startLogged(t, { tls: { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') } });
  let n = 0;
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
      req.end(JSON.stringify(exitBody({ ExitMemberList: [{ Member_Account: `tls-${++n}` }] })));
    });
  t.same(await call(), { status: 200, cn: 'first' });
  makeCert('second');
  svc.reload();
  t.same(await call(), { status: 200, cn: 'second' }, 'new connections get the new certificate');
  t.equal(readLines(svc.file).length, 2);
  t.ok(svc.records.some((r) => r.msg === 'TLS certificate reloaded'));
});
