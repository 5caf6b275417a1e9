/**
 * The app's one callback URL (issue #10): every command of the app arrives here. Commands that are
 * not audited are answered OK whatever their body; a dismissed group's members are audited as
 * `Destroyed`, up to Tencent's largest groups.
 */
import { readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import t from 'tap';
import { sign } from '../../src/http/signature.js';
import { readLines } from '../helpers/lines.js';
import { exitBody, FIXTURES, post, request, startTest } from '../helpers/service.js';

const OK = { ActionStatus: 'OK', ErrorInfo: '', ErrorCode: 0 };
const TOKEN = 'console-token';
const DESTROYED = 'Group.CallbackAfterGroupDestroyed';
const nowSec = () => String(Math.floor(Date.now() / 1000));
const signed = (token = TOKEN, time = nowSec()) => ({ RequestTime: time, Sign: sign(token, time) });

t.test('commands that are not audited: OK whatever the body, nothing written, still authenticated', async (t) => {
  const svc = await startTest(t, { apps: [{ sdkAppId: '1400000000', token: TOKEN }] });
  const before = 'Group.CallbackBeforeSendMsg';
  const msg = (text: string) => JSON.stringify({ CallbackCommand: before, GroupId: '@TGS#1', From_Account: 'a', MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: text } }] });
  const cases: [string, string | Buffer, Record<string, string>?][] = [
    ['message text holding U+FFFD', msg('broken \uFFFD glyph')],
    ['invalid UTF-8', Buffer.concat([Buffer.from(msg('x').slice(0, -5)), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}]}')])],
    ['not JSON at all', 'this is not { json'],
    ['an empty body', ''],
    ['a 5 MiB body', msg('y'.repeat(5 * 1024 * 1024))],
    ["the body names the command differently (Tencent's Live docs do)", JSON.stringify({ CallbackCommand: 'Live.CallbackBeforeSendMsg', Text: 'hi' })],
    ['a gzip header on a plain body', msg('z'), { 'content-encoding': 'gzip' }],
  ];
  for (const [name, body, headers] of cases) {
    const res = await request(svc.port, { path: `/?SdkAppid=1400000000&CallbackCommand=${before}&${new URLSearchParams(signed())}`, body, headers });
    t.equal(res.status, 200, `${name}: 200`);
    t.same(res.json, OK, `${name}: the OK reply`);
  }
  for (const cmd of ['State.StateChange', 'Sns.CallbackFriendAdd', 'C2C.CallbackAfterSendMsg', 'Group.CallbackAfterNewMemberJoin']) {
    t.same((await post(svc.port, '[1,2', { CallbackCommand: cmd, ...signed() })).json, OK, cmd);
  }
  t.equal(statSync(svc.file).size, 0, 'not one byte written');

  // Not from the app's IM backend: still refused, whatever the command.
  t.equal((await post(svc.port, msg('x'), { CallbackCommand: before })).json.ErrorCode, 40101, 'unsigned: 401 AUTH_MISSING');
  t.equal((await post(svc.port, msg('x'), { CallbackCommand: before, ...signed('wrong-token') })).json.ErrorCode, 40104, 'wrongly signed: 401 AUTH_BAD_SIGN');
  t.equal((await post(svc.port, msg('x'), { CallbackCommand: before, ...signed(), SdkAppid: '1400000009' })).json.ErrorCode, 40301, 'another app: 403');
  t.equal(statSync(svc.file).size, 0);
});

t.test('a body past limits.otherBodyBytes: 413 with Connection: close, and the connection is not reused', async (t) => {
  const svc = await startTest(t, { limits: { otherBodyBytes: 65536 } });
  const path = '/?SdkAppid=1400000000&CallbackCommand=Group.CallbackBeforeSendMsg';
  const declared = await request(svc.port, { path, body: 'x'.repeat(65537) });
  t.equal(declared.status, 413);
  t.equal(declared.json.ErrorCode, 41301);
  t.equal(declared.headers.connection, 'close');
  t.equal((await request(svc.port, { path, body: 'x'.repeat(65536) })).status, 200, 'exactly at the bound: OK');

  // Chunked, so the size shows only while reading: the refusal comes mid-body. The next request on
  // the same socket must not be taken from the rest of that body: the server closes the socket.
  const reply = await new Promise<string>((resolve, reject) => {
    const sock = net.connect(svc.port, '127.0.0.1');
    let got = '';
    sock.on('data', (d) => (got += d));
    sock.on('close', () => resolve(got));
    sock.on('error', reject);
    sock.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`);
    const chunk = 'y'.repeat(16384);
    for (let i = 0; i < 8; i++) sock.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
  });
  t.match(reply, /^HTTP\/1\.1 413 /, 'a 413 for the chunked body');
  t.match(reply, /\r\nConnection: close\r\n/i, 'with Connection: close');
  t.match(reply, /"ErrorCode":41301/);
  t.equal((await post(svc.port, exitBody())).status, 200, 'the service goes on');
});

t.test("Tencent's GroupDestroyed sample: one Destroyed line per member, operator null", async (t) => {
  // Deduplication off, to see the id rule: a resend carries the same ids.
  const svc = await startTest(t, { audit: { dedupWindowMs: 0 } });
  const body = readFileSync(FIXTURES + 'group-destroyed-doc-sample.json');
  const path = `/?SdkAppid=1400000000&CallbackCommand=${DESTROYED}&contenttype=json&ClientIP=10.0.0.7&OptPlatform=RESTAPI`;
  const res = await request(svc.port, { path, body });
  t.same(res.json, OK);
  const text = readFileSync(svc.file, 'utf8');
  const lines = readLines(svc.file);
  t.equal(lines.length, 3);
  t.same(lines.map((l) => l.member), ['leckie', 'peter', 'bob'], 'every member of MemberList, the owner included, in order');
  for (const l of lines) {
    t.match(l, { time: '2022-12-09T08:26:54.123Z', event: 'group.member.exit', sdkAppId: '1400000000', groupId: '@TGS#2J4SZEAEL', groupType: 'Public', exitType: 'Destroyed', operator: null, eventTime: 1670574414123, clientIp: '10.0.0.7', optPlatform: 'RESTAPI' });
  }
  const receivedAt = lines[0]!.receivedAt;
  t.equal(
    text.split('\n')[0],
    `{"time":"2022-12-09T08:26:54.123Z","event":"group.member.exit","sdkAppId":"1400000000","groupId":"@TGS#2J4SZEAEL","groupType":"Public","exitType":"Destroyed","operator":null,"member":"leckie","eventTime":1670574414123,"receivedAt":"${receivedAt}","clientIp":"10.0.0.7","optPlatform":"RESTAPI","id":"${lines[0]!.id}","prev":"${'0'.repeat(64)}"}`,
    'the same line format and key order as member-exit (chained: audit.chain is on by default)',
  );
  t.equal((await request(svc.port, { path, body })).status, 200, 'a retry');
  const again = readLines(svc.file).slice(3);
  t.same(again.map((l) => l.id), lines.map((l) => l.id), 'a retried dismissal gives the same ids');
  t.equal(new Set(lines.map((l) => l.id)).size, 3, 'distinct per member');
});

t.test('a dismissal is checked like any audited callback', async (t) => {
  const svc = await startTest(t);
  const send = (body: unknown) => post(svc.port, body, { CallbackCommand: DESTROYED });
  const good = { CallbackCommand: DESTROYED, GroupId: 'g', Type: 'Public', MemberList: [{ Member_Account: 'a' }] };
  t.match((await send({ ...good, MemberList: [] })).json, { ErrorCode: 40003, ErrorInfo: /\/MemberList: must not be empty \(Tencent leaves it out only for a Community\)/ });
  t.match((await send({ ...good, MemberList: undefined })).json, { ErrorCode: 40003, ErrorInfo: /\/MemberList: is required/ });
  t.match((await send({ ...good, MemberList: [{}] })).json, { ErrorCode: 40003, ErrorInfo: /\/MemberList\/0/ });
  t.match((await send({ ...good, GroupId: 7 })).json, { ErrorCode: 40003, ErrorInfo: /\/GroupId: must be string/ });
  t.equal((await send('{"CallbackCommand":')).json.ErrorCode, 40001);
  t.equal((await send({ ...good, CallbackCommand: 'Group.CallbackAfterMemberExit' })).json.ErrorCode, 40004, 'query and body disagree: an audited command is refused');
  t.equal(statSync(svc.file).size, 0);
  t.equal((await send({ ...good, EventTime: undefined })).status, 200, 'without EventTime, like real captures');
  t.match(readLines(svc.file)[0], { exitType: 'Destroyed', operator: null, eventTime: null });
});

// Issue #19: "This field will not be returned for communities" (Tencent, "After a Group Is Disbanded").
t.test('a Community dismissal without MemberList: exactly one line for the group; a resend gives the same id', async (t) => {
  const body = { CallbackCommand: DESTROYED, GroupId: '@TGS#_@TGS#cQVLVHIM62CJ', Type: 'Community', Owner_Account: 'leckie', Name: 'c', EventTime: '1670574414123' };
  for (const dedupWindowMs of [0, 300000]) {
    const svc = await startTest(t, { audit: { dedupWindowMs } });
    t.same((await post(svc.port, body, { CallbackCommand: DESTROYED })).json, OK);
    const [line, ...rest] = readLines(svc.file);
    t.same(rest, [], 'one line');
    t.match(line, { event: 'group.member.exit', groupId: '@TGS#_@TGS#cQVLVHIM62CJ', groupType: 'Community', exitType: 'Destroyed', operator: null, member: null, eventTime: 1670574414123, time: '2022-12-09T08:26:54.123Z' });
    t.match(readFileSync(svc.file, 'utf8'), /"operator":null,"member":null,"eventTime":1670574414123,/, 'member null in its place: same key order');
    t.same((await post(svc.port, { ...body, MemberList: [] }, { CallbackCommand: DESTROYED })).json, OK, 'an empty list for a Community: the same');
    const all = readLines(svc.file);
    if (dedupWindowMs === 0) t.same(all.map((l) => l.id), [line!.id, line!.id], 'the resend: the same id');
    else t.equal(all.length, 1, 'with deduplication on, the resend is not written again');
    await svc.stop();
  }
});

t.test("the 100,000 members of Tencent's largest group: one batch, each line once, answered OK", async (t) => {
  const svc = await startTest(t);
  const members = Array.from({ length: 100000 }, (_, i) => ({ Member_Account: `member_${String(i).padStart(6, '0')}` }));
  const body = JSON.stringify({ CallbackCommand: DESTROYED, GroupId: '@TGS#_@TGS#cQVLVHIM62CJ', Type: 'Community', Owner_Account: 'member_000000', Name: 'big', MemberList: members, EventTime: 1764115200000 });
  t.ok(body.length > 2_900_000, `a ${(body.length / 1e6).toFixed(1)} MB body`);
  const res = await post(svc.port, body, { CallbackCommand: DESTROYED });
  t.same(res.json, OK);
  const lines = readLines(svc.file);
  t.equal(lines.length, 100000);
  t.equal(new Set(lines.map((l) => l.member)).size, 100000, 'each member once');
  t.equal(new Set(lines.map((l) => l.id)).size, 100000, 'each id once');
  t.ok(lines.every((l) => l.exitType === 'Destroyed' && l.groupId === '@TGS#_@TGS#cQVLVHIM62CJ'));
  t.equal((await post(svc.port, exitBody())).status, 200, 'and a member-exit right after');
});

t.test('audit.commands turns the dismissal off: then it is answered OK unread, like any other', async (t) => {
  const svc = await startTest(t, { audit: { commands: { [DESTROYED]: { enabled: false } } } });
  const res = await request(svc.port, { path: `/?SdkAppid=1400000000&CallbackCommand=${DESTROYED}`, body: readFileSync(FIXTURES + 'group-destroyed-doc-sample.json') });
  t.same(res.json, OK);
  t.equal(statSync(svc.file).size, 0);
  t.equal((await post(svc.port, exitBody())).status, 200, 'member-exit still audited');
});
