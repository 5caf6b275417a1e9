import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import t from 'tap';
import { readLines } from '../helpers/lines.js';
import { exitBody, post, request, FIXTURES, startTest, MEMBER_EXIT, APP } from '../helpers/service.js';

const OK = { ActionStatus: 'OK', ErrorInfo: '', ErrorCode: 0 };

t.test('the documented sample gives the two documented lines', async (t) => {
  const svc = await startTest(t);
  const body = readFileSync(FIXTURES + 'doc-sample.json');
  const qs = readFileSync(FIXTURES + 'doc-sample.query', 'utf8').trim();
  const before = Date.now();
  const res = await request(svc.port, { path: '/?' + qs, body });
  t.equal(res.status, 200);
  t.same(res.json, OK);
  t.equal(res.text, JSON.stringify(OK), 'reply is the exact documented body');
  t.match(res.headers['content-type'], /^application\/json/);
  const text = readFileSync(svc.file, 'utf8');
  const lines = text.trimEnd().split('\n').map((l) => JSON.parse(l));
  t.equal(lines.length, 2);
  const receivedAt = lines[0].receivedAt;
  t.ok(Date.parse(receivedAt) >= before - 1 && Date.parse(receivedAt) <= Date.now() + 1, 'receivedAt is the receive time');
  // Chained (audit.chain is on by default): the first line ever has prev 64 zeros, the next the hash of the first.
  const expected = (member: string, id: string, prev: string) =>
    `{"time":"2022-12-09T08:26:54.123Z","event":"group.member.exit","sdkAppId":"1400000000","groupId":"@TGS#2J4SZEAEL","groupType":"Public","exitType":"Kicked","operator":"leckie","member":"${member}","eventTime":1670574414123,"receivedAt":"${receivedAt}","clientIp":"127.0.0.1","optPlatform":"RESTAPI","id":"${id}","prev":"${prev}"}`;
  const first = expected('jared', '0760755d6cc13dffc719bed22fc6205e', '0'.repeat(64));
  t.equal(text, `${first}\n${expected('tommy', 'a6dcae2f84958c6d48f2d5d63ee317de', createHash('sha256').update(first).digest('hex'))}\n`);
  t.equal(statSync(svc.file).mode & 0o777, 0o640 & ~process.umask(), 'file created 0640 (less umask)');
});

t.test('the real capture without EventTime: time is the receive time, id random', async (t) => {
  const svc = await startTest(t);
  const body = readFileSync(FIXTURES + 'capture-quit-no-eventtime.json');
  const qs = 'SdkAppid=1400000000&CallbackCommand=Group.CallbackAfterMemberExit&contenttype=json&ClientIP=1.2.3.4&OptPlatform=iOS';
  t.equal((await request(svc.port, { path: '/?' + qs, body })).status, 200);
  t.equal((await request(svc.port, { path: '/?' + qs, body })).status, 200);
  const [a, b] = readLines(svc.file);
  t.match(a, { time: a!.receivedAt, member: '22951', operator: '22951', exitType: 'Quit', groupType: 'AVChatRoom', groupId: '22097', eventTime: null, clientIp: '1.2.3.4', optPlatform: 'iOS' });
  t.not(a!.id, b!.id, 'without EventTime a repeat is a distinct event');
});

t.test('a retried callback with EventTime yields the same ids', async (t) => {
  const svc = await startTest(t, { audit: { dedupWindowMs: 0 } });
  await post(svc.port, exitBody());
  await post(svc.port, exitBody());
  const [a, b] = readLines(svc.file);
  t.equal(a!.id, b!.id);
});

t.test('a resend within audit.dedupWindowMs is acknowledged and not written again; a new member of it is', async (t) => {
  const svc = await startTest(t);
  t.equal((await post(svc.port, exitBody())).status, 200);
  t.equal((await post(svc.port, exitBody())).status, 200, 'the resend is acknowledged: its lines are on disk');
  t.equal((await post(svc.port, exitBody({ ExitMemberList: [{ Member_Account: 'jared' }, { Member_Account: 'tommy' }] }))).status, 200);
  t.same(readLines(svc.file).map((l) => l.member), ['jared', 'tommy'], 'each member once');
  const metrics = (await request(svc.adminPort, { method: 'GET', path: '/metrics' })).text;
  t.match(metrics, /member_exit_audit_lines_duplicate_total 2/, 'the skipped lines are counted');
});

t.test('the body is JSON whatever Content-Type says', async (t) => {
  const svc = await startTest(t);
  for (const ct of [undefined, 'text/plain', 'application/json', 'application/x-www-form-urlencoded', 'application/json; charset=utf-8']) {
    const res = await request(svc.port, {
      path: `/?SdkAppid=${APP}&CallbackCommand=${MEMBER_EXIT}`,
      headers: ct ? { 'content-type': ct } : {},
      body: JSON.stringify(exitBody({ ExitMemberList: [{ Member_Account: `ct-${ct}` }] })),
    });
    t.equal(res.status, 200, `Content-Type ${ct}`);
  }
  t.same(readLines(svc.file).map((l) => l.member), ['ct-undefined', 'ct-text/plain', 'ct-application/json', 'ct-application/x-www-form-urlencoded', 'ct-application/json; charset=utf-8']);
});

t.test('query parameters are read by name, in any order; absent ClientIP/OptPlatform are null', async (t) => {
  const svc = await startTest(t);
  const res = await request(svc.port, { path: `/?CallbackCommand=${MEMBER_EXIT}&SdkAppid=${APP}`, body: JSON.stringify(exitBody()) });
  t.equal(res.status, 200);
  t.match(readLines(svc.file)[0], { clientIp: null, optPlatform: null });
});

t.test('EventTime as integer, numeric string, or absent', async (t) => {
  const svc = await startTest(t, { audit: { dedupWindowMs: 0 } });
  t.equal((await post(svc.port, exitBody({ EventTime: 1670574414123 }))).status, 200);
  t.equal((await post(svc.port, exitBody({ EventTime: '1670574414123' }))).status, 200);
  t.equal((await post(svc.port, exitBody({ EventTime: undefined }))).status, 200);
  const [a, b, c] = readLines(svc.file);
  t.equal(a!.eventTime, 1670574414123);
  t.equal(b!.eventTime, 1670574414123);
  t.equal(a!.id, b!.id, 'integer and string EventTime are the same event');
  t.equal(c!.eventTime, null);
});

t.test('one line per distinct member, in list order', async (t) => {
  const svc = await startTest(t);
  const list = ['a', 'b', 'a', 'c', 'b'].map((m) => ({ Member_Account: m }));
  t.equal((await post(svc.port, exitBody({ ExitMemberList: list }))).status, 200);
  t.same(readLines(svc.file).map((l) => l.member), ['a', 'b', 'c']);
});

t.test('other commands of a configured app: OK, nothing written', async (t) => {
  const svc = await startTest(t);
  for (const cmd of ['Group.CallbackBeforeSendMsg', 'Group.CallbackAfterNewMemberJoin', 'State.StateChange', 'C2C.CallbackBeforeSendMsg']) {
    const res = await post(svc.port, { CallbackCommand: cmd, Anything: [1, 2] }, { CallbackCommand: cmd });
    t.same(res.json, OK, cmd);
  }
  t.same(readLines(svc.file), []);
});

t.test('failures: FAIL JSON with status and ErrorCode, nothing written', async (t) => {
  const svc = await startTest(t);
  const cases: [string, Promise<ReturnType<typeof post> extends Promise<infer R> ? R : never>, number, number][] = [
    ['unknown app', post(svc.port, exitBody(), { SdkAppid: '1400000001' }), 403, 40301],
    ['bad JSON', post(svc.port, '{"CallbackCommand":'), 400, 40001],
    ['empty body', post(svc.port, ''), 400, 40001],
    ['JSON scalar', post(svc.port, '42'), 400, 40001],
    ['schema: ExitType', post(svc.port, exitBody({ ExitType: 'Left' })), 400, 40003],
    ['schema: empty list', post(svc.port, exitBody({ ExitMemberList: [] })), 400, 40003],
    ['schema: empty member', post(svc.port, exitBody({ ExitMemberList: [{ Member_Account: '' }] })), 400, 40003],
    ['schema: EventTime float', post(svc.port, exitBody({ EventTime: 1.5 })), 400, 40003],
    ['schema: EventTime text', post(svc.port, exitBody({ EventTime: 'yesterday' })), 400, 40003],
    ['command mismatch', post(svc.port, exitBody({ CallbackCommand: 'Group.CallbackAfterGroupDestroyed' })), 400, 40004],
    ['command missing', request(svc.port, { path: `/?SdkAppid=${APP}`, body: JSON.stringify(exitBody()) }), 400, 40005],
    ['other path', request(svc.port, { path: `/x?SdkAppid=${APP}`, body: JSON.stringify(exitBody()) }), 404, 40401],
    ['GET', request(svc.port, { method: 'GET' }), 405, 40501],
    ['too large', post(svc.port, JSON.stringify(exitBody({ pad: 'x'.repeat(1024 * 1024) }))), 413, 41301],
  ];
  for (const [name, promise, status, code] of cases) {
    const res = await promise;
    t.equal(res.status, status, `${name}: status`);
    t.equal(res.json.ActionStatus, 'FAIL', `${name}: FAIL`);
    t.equal(res.json.ErrorCode, code, `${name}: ErrorCode`);
    t.type(res.json.ErrorInfo, 'string');
    t.ok(res.json.ErrorInfo!.length > 0, `${name}: ErrorInfo says why`);
  }
  t.same(readLines(svc.file), [], 'not one line written');
  t.equal((await post(svc.port, exitBody())).status, 200, 'and a valid callback still succeeds');
});

t.test('a schema failure names the field', async (t) => {
  const svc = await startTest(t);
  const res = await post(svc.port, exitBody({ GroupId: 7 }));
  t.match(res.json.ErrorInfo, /\/GroupId: must be string/);
  const res2 = await post(svc.port, exitBody({ Operator_Account: undefined }));
  t.match(res2.json.ErrorInfo, /\/Operator_Account: is required/);
  const res3 = await post(svc.port, exitBody({ ExitMemberList: [{ Member_Account: 'a' }, { Member_Account: 3 }] }));
  t.match(res3.json.ErrorInfo, /\/ExitMemberList\/1\/Member_Account: must be string/);
});

t.test('unknown extra fields are tolerated', async (t) => {
  const svc = await startTest(t);
  const res = await post(svc.port, exitBody({ NewField: { x: 1 }, ExitMemberList: [{ Member_Account: 'm', Extra: true }] }));
  t.equal(res.status, 200);
  t.equal(readLines(svc.file)[0]!.member, 'm');
});
