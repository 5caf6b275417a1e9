/**
 * Every case of the hostile corpus against a real server whose app has a token: the documented
 * FAIL reply, not one byte added to the audit file, and a valid callback right after succeeds.
 */
import { statSync } from 'node:fs';
import t from 'tap';
import { ERRORS } from '../../src/errors.js';
import { sign } from '../../src/http/signature.js';
import { hostileCases, VALID } from '../corpus/hostile.js';
import { readLines } from '../helpers/lines.js';
import { request, startTest } from '../helpers/service.js';

const TOKEN = 'corpus-token';

function signedQuery(params: Record<string, string | null> = {}, extra?: string): string {
  const time = String(Math.floor(Date.now() / 1000));
  const q: Record<string, string | null> = {
    SdkAppid: '1400000000',
    CallbackCommand: 'Group.CallbackAfterMemberExit',
    contenttype: 'json',
    ClientIP: '198.51.100.7',
    OptPlatform: 'Android',
    RequestTime: time,
    Sign: sign(TOKEN, time),
    ...params,
  };
  const qs = new URLSearchParams(Object.entries(q).filter((e): e is [string, string] => e[1] !== null)).toString();
  return qs ? `?${qs}${extra ? `&${extra}` : ''}` : '';
}

t.test('hostile corpus', async (t) => {
  const cases = hostileCases();
  t.ok(cases.length >= 200, `${cases.length} cases`);
  t.equal(new Set(cases.map((c) => c.name)).size, cases.length, 'case names are unique');
  const codes = new Map(Object.values(ERRORS).map((e) => [e.errorCode, e.status]));
  const svc = await startTest(t, { apps: [{ sdkAppId: '1400000000', token: TOKEN }] });
  let size = 0;
  let valid = 0;
  for (const c of cases) {
    t.equal(codes.get(c.errorCode), c.status, `${c.name}: expectation is a row of the error table`);
    const res = await request(svc.port, { method: c.method ?? 'POST', path: (c.path ?? '/') + signedQuery(c.params, c.extraQuery), headers: c.headers, body: c.body });
    t.same(
      { status: res.status, ActionStatus: res.json.ActionStatus, ErrorCode: res.json.ErrorCode },
      { status: c.status, ActionStatus: 'FAIL', ErrorCode: c.errorCode },
      `${c.name}: ${res.text.slice(0, 160)}`,
    );
    t.ok(typeof res.json.ErrorInfo === 'string' && res.json.ErrorInfo.length > 0, `${c.name}: ErrorInfo says why`);
    t.notMatch(res.json.ErrorInfo ?? '', /[\p{Cc}\p{Cf}\u2028\u2029]/u, `${c.name}: no raw control or format character in ErrorInfo`);
    t.equal(statSync(svc.file).size, size, `${c.name}: no byte added`);
    const ok = await request(svc.port, { path: '/' + signedQuery({}), body: JSON.stringify({ ...VALID, ExitMemberList: [{ Member_Account: `after-${++valid}` }] }) });
    t.equal(ok.status, 200, `${c.name}: a valid callback right after succeeds`);
    size = statSync(svc.file).size;
  }
  const lines = readLines(svc.file);
  t.equal(lines.length, valid, 'exactly the valid callbacks are in the file');
  t.equal(({} as Record<string, unknown>).GroupId, undefined, 'Object.prototype is not polluted');
});
