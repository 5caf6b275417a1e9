/**
 * The hostile-request corpus: broken or hostile requests, each with the status and ErrorCode it
 * must get. test/integration/corpus.test.ts sends each to a real server whose app has a token;
 * unless a case says otherwise, its query is the valid signed query with `params` laid over it
 * (a `null` removes a parameter).
 */
import { gzipSync } from 'node:zlib';

export interface HostileCase {
  name: string;
  method?: string;
  /** Default `/`. */
  path?: string;
  /** Overrides of the signed query; null removes. Ignored when `rawQuery` is set. */
  params?: Record<string, string | null>;
  /** Appended to the signed query as is (for repeated parameters). */
  extraQuery?: string;
  headers?: Record<string, string>;
  body: string | Buffer;
  status: number;
  errorCode: number;
}

const CMD = 'Group.CallbackAfterMemberExit';
export const VALID = {
  CallbackCommand: CMD,
  GroupId: '@TGS#2J4SZEAEL',
  Type: 'Public',
  ExitType: 'Kicked',
  Operator_Account: 'leckie',
  ExitMemberList: [{ Member_Account: 'jared' }, { Member_Account: 'tommy' }],
  EventTime: '1670574414123',
};
const VALID_TEXT = JSON.stringify(VALID);
const json = (o: unknown) => JSON.stringify(o);
const withField = (k: string, v: unknown) => json({ ...VALID, [k]: v });
const without = (k: string) => json(Object.fromEntries(Object.entries(VALID).filter(([key]) => key !== k)));

export function hostileCases(): HostileCase[] {
  const cases: HostileCase[] = [];
  const add = (c: HostileCase) => cases.push(c);

  // Not JSON at all, or JSON that is not an object.
  const badJson = [
    '{', '}', '{"a":}', "{'a':1}", '{"a":1,}', '{"a":1}{"b":2}', '{"a":1} x', 'null', 'true', '42', '"text"',
    'NaN', 'undefined', '{"a":01}', '{"a":+1}', '{"a":.5}', '{"a":1e}', '{"a":"\\x41"}', '{"a":"\\u12"}',
    '/* comment */{}', '{"a":"tab\there"}', '{"a":"nul\u0000"}', '{"a":"bell\u0007"}',
    '{"GroupId":"line\nbreak"}', '<xml/>', 'SdkAppid=1', '\u0000', '{"a" 1}', '{a:1}', '[1,2', '{"a":[}',
  ];
  badJson.forEach((body, i) => add({ name: `bad JSON #${i} ${JSON.stringify(body).slice(0, 30)}`, body, status: 400, errorCode: 40001 }));
  add({ name: 'empty body', body: '', status: 400, errorCode: 40001 });
  add({ name: 'whitespace body', body: '   \n', status: 400, errorCode: 40001 });

  // Every prefix-truncation of a valid body is invalid JSON.
  for (let cut = 1; cut < VALID_TEXT.length; cut += Math.ceil(VALID_TEXT.length / 40)) {
    add({ name: `truncated at ${cut}`, body: VALID_TEXT.slice(0, cut), status: 400, errorCode: 40001 });
  }

  // Wrong types in every field.
  const wrong: [string, unknown][] = [['null', null], ['true', true], ['zero', 0], ['negative', -1], ['float', 1.5], ['array', []], ['object', {}], ['huge', 1e308]];
  for (const field of ['GroupId', 'Type', 'ExitType', 'Operator_Account', 'ExitMemberList']) {
    for (const [label, v] of wrong) add({ name: `${field} is ${label}`, body: withField(field, v), status: 400, errorCode: 40003 });
  }
  for (const [label, v] of wrong.filter(([l]) => l !== 'zero' && l !== 'huge')) {
    add({ name: `EventTime is ${label}`, body: withField('EventTime', v), status: 400, errorCode: 40003 });
    add({ name: `Member_Account is ${label}`, body: withField('ExitMemberList', [{ Member_Account: v }]), status: 400, errorCode: 40003 });
    add({ name: `ExitMemberList item is ${label}`, body: withField('ExitMemberList', [v]), status: 400, errorCode: 40003 });
  }
  for (const [label, v] of wrong.filter(([l]) => l !== 'null')) {
    add({ name: `body CallbackCommand is ${label}`, body: withField('CallbackCommand', v), status: 400, errorCode: 40004 });
  }
  for (const field of ['GroupId', 'Type', 'ExitType', 'Operator_Account', 'ExitMemberList']) {
    add({ name: `${field} missing`, body: without(field), status: 400, errorCode: 40003 });
  }
  add({ name: 'body CallbackCommand missing', body: without('CallbackCommand'), status: 400, errorCode: 40003 });
  for (const v of ['kicked', 'QUIT', ' Quit', 'Left', '', 'Kicked\u0000']) add({ name: `ExitType ${JSON.stringify(v)}`, body: withField('ExitType', v), status: 400, errorCode: 40003 });
  for (const v of ['Group.CallbackAfterNewMemberJoin', 'group.callbackaftermemberexit', '']) {
    add({ name: `body command ${JSON.stringify(v)}`, body: withField('CallbackCommand', v), status: 400, errorCode: 40004 });
  }
  add({ name: 'empty GroupId', body: withField('GroupId', ''), status: 400, errorCode: 40003 });
  add({ name: 'empty member list', body: withField('ExitMemberList', []), status: 400, errorCode: 40003 });
  add({ name: 'empty Member_Account', body: withField('ExitMemberList', [{ Member_Account: '' }]), status: 400, errorCode: 40003 });
  add({ name: 'over-long GroupId', body: withField('GroupId', 'g'.repeat(1025)), status: 400, errorCode: 40003 });
  add({ name: 'over-long account', body: withField('ExitMemberList', [{ Member_Account: 'a'.repeat(1025) }]), status: 400, errorCode: 40003 });
  add({ name: 'too many members', body: withField('ExitMemberList', Array.from({ length: 10001 }, (_, i) => ({ Member_Account: `${i}` }))), status: 400, errorCode: 40003 });

  // Huge and odd numbers.
  for (const raw of ['1e400', '-1e400', '99999999999999999999999', '1670574414123.5', '-1670574414123']) {
    add({ name: `EventTime ${raw}`, body: VALID_TEXT.replace('"EventTime":"1670574414123"', `"EventTime":${raw}`), status: 400, errorCode: 40003 });
  }
  for (const s of ['00000000000000000000', '1670574414123 ', '0x1F', '-5', '', '999999999999999']) {
    add({ name: `EventTime string ${JSON.stringify(s)}`, body: withField('EventTime', s), status: 400, errorCode: 40003 });
  }

  // Deep nesting where a value is expected, and at the top.
  for (const depth of [100, 10000, 600000]) {
    add({ name: `GroupId nested ${depth} deep`, body: VALID_TEXT.replace('"@TGS#2J4SZEAEL"', '['.repeat(depth) + ']'.repeat(depth)), status: depth > 300000 ? 413 : 400, errorCode: depth > 300000 ? 41301 : 40003 });
  }
  add({ name: 'top-level array nested 50000 deep', body: '['.repeat(50000) + ']'.repeat(50000), status: 400, errorCode: 40003 });

  // Prototype-pollution shapes: koa-bodyparser refuses __proto__ keys outright; a constructor key
  // is an ordinary own key and cannot stand in for a missing field.
  add({ name: '__proto__ carrying GroupId', body: without('GroupId').replace('{', '{"__proto__":{"GroupId":"x"},'), status: 400, errorCode: 40001 });
  add({ name: '__proto__ in a member', body: withField('ExitMemberList', [JSON.parse('{"__proto__":{"Member_Account":"x"}}')]), status: 400, errorCode: 40001 });
  add({ name: '__proto__ in a valid body', body: VALID_TEXT.replace('{', '{"__proto__":{"isAdmin":true},'), status: 400, errorCode: 40001 });
  add({ name: 'constructor.prototype carrying ExitType', body: without('ExitType').replace('{', '{"constructor":{"prototype":{"ExitType":"Quit"}},'), status: 400, errorCode: 40003 });
  add({ name: '__proto__ as member list', body: without('ExitMemberList').replace('{', '{"__proto__":[{"Member_Account":"x"}],'), status: 400, errorCode: 40001 });

  // Invalid UTF-8 inside a string value, and outside one.
  const bytes = (b: number[]) => Buffer.concat([Buffer.from(VALID_TEXT.slice(0, VALID_TEXT.indexOf('jared'))), Buffer.from(b), Buffer.from(VALID_TEXT.slice(VALID_TEXT.indexOf('jared')))]);
  const invalidUtf8: [string, number[]][] = [['0xFF', [0xff]], ['0xFE', [0xfe]], ['lone continuation', [0x80]], ['overlong slash', [0xc0, 0xaf]], ['truncated 2-byte', [0xc3]], ['surrogate D800', [0xed, 0xa0, 0x80]], ['truncated 4-byte', [0xf0, 0x9f, 0x98]], ['beyond U+10FFFF', [0xf4, 0x90, 0x80, 0x80]], ['Latin-1 e-acute', [0xe9]]];
  for (const [label, b] of invalidUtf8) add({ name: `invalid UTF-8 in a string: ${label}`, body: bytes(b), status: 400, errorCode: 40002 });
  add({ name: 'invalid UTF-8 outside strings', body: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(VALID_TEXT)]), status: 400, errorCode: 40001 });
  add({ name: 'UTF-16 body', body: Buffer.from(VALID_TEXT, 'utf16le'), status: 400, errorCode: 40001 });

  // Query: repeated, missing, odd.
  for (const p of ['SdkAppid=1400000000', `CallbackCommand=${CMD}`, 'Sign=00', 'RequestTime=1', 'ClientIP=1.1.1.1', 'OptPlatform=Web']) {
    add({ name: `repeated ${p.split('=')[0]}`, extraQuery: p, body: VALID_TEXT, status: 400, errorCode: 40006 });
  }
  add({ name: 'no SdkAppid', params: { SdkAppid: null }, body: VALID_TEXT, status: 403, errorCode: 40301 });
  add({ name: 'no CallbackCommand', params: { CallbackCommand: null }, body: VALID_TEXT, status: 400, errorCode: 40005 });
  add({ name: 'empty CallbackCommand', params: { CallbackCommand: '' }, body: VALID_TEXT, status: 400, errorCode: 40005 });
  add({ name: 'query command differs', params: { CallbackCommand: 'Group.CallbackAfterGroupDestroyed' }, body: VALID_TEXT, status: 400, errorCode: 40004 });
  add({ name: 'no query at all', path: '/', params: { SdkAppid: null, CallbackCommand: null, Sign: null, RequestTime: null }, body: VALID_TEXT, status: 403, errorCode: 40301 });
  for (const id of ['1400000001', '', 'abc', '1400000000 ', '1400000000\u0000', '01400000000', '-1400000000']) {
    add({ name: `SdkAppid ${JSON.stringify(id)}`, params: { SdkAppid: id }, body: VALID_TEXT, status: 403, errorCode: 40301 });
  }
  add({ name: 'malformed percent-encoding', extraQuery: 'ClientIP=%E0%A4%A', body: VALID_TEXT, status: 400, errorCode: 40006 });
  add({ name: 'over-long ClientIP', params: { ClientIP: 'x'.repeat(1025) }, body: VALID_TEXT, status: 400, errorCode: 40006 });

  // Signatures: missing, malformed, stale, wrong.
  add({ name: 'unsigned', params: { Sign: null, RequestTime: null }, body: VALID_TEXT, status: 401, errorCode: 40101 });
  add({ name: 'no Sign', params: { Sign: null }, body: VALID_TEXT, status: 401, errorCode: 40101 });
  add({ name: 'no RequestTime', params: { RequestTime: null }, body: VALID_TEXT, status: 401, errorCode: 40101 });
  for (const s of ['', 'abc', '0'.repeat(63), '0'.repeat(65), 'G'.repeat(64), 'A'.repeat(64)]) {
    add({ name: `malformed Sign ${s.slice(0, 8)}…(${s.length})`, params: { Sign: s }, body: VALID_TEXT, status: 401, errorCode: 40102 });
  }
  for (const rt of ['', 'now', '-1', '1.5', '1e9', '9'.repeat(13)]) {
    add({ name: `malformed RequestTime ${JSON.stringify(rt)}`, params: { RequestTime: rt }, body: VALID_TEXT, status: 401, errorCode: 40102 });
  }
  add({ name: 'wrong Sign', params: { Sign: 'f'.repeat(64) }, body: VALID_TEXT, status: 401, errorCode: 40104 });
  add({ name: 'Sign of the worked example', params: { Sign: '17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061', RequestTime: '1669872112' }, body: VALID_TEXT, status: 401, errorCode: 40103 });
  add({ name: 'stale RequestTime (signed correctly elsewhere)', params: { RequestTime: '1000000000' }, body: VALID_TEXT, status: 401, errorCode: 40103 });

  // Paths and methods.
  for (const path of ['/x', '//', '/%2e%2e/', '/index.html', '/healthz', '/metrics']) {
    add({ name: `path ${path}`, path, body: VALID_TEXT, status: 404, errorCode: 40401 });
  }
  for (const method of ['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'PROPFIND', 'SEARCH', 'PURGE', 'LOCK', 'MKCOL', 'COPY', 'MOVE', 'TRACE']) {
    add({ name: `method ${method}`, method, body: method === 'GET' || method === 'TRACE' ? '' : VALID_TEXT, status: 405, errorCode: 40501 });
  }

  // Size and encoding.
  add({ name: 'body over 1 MiB', body: withField('pad', 'x'.repeat(1 << 20)), status: 413, errorCode: 41301 });
  add({ name: 'gzip bomb (10 MiB of zeros)', headers: { 'content-encoding': 'gzip' }, body: gzipSync(Buffer.alloc(10 << 20, 0x20)), status: 413, errorCode: 41301 });
  add({ name: 'unknown Content-Encoding', headers: { 'content-encoding': 'x-unknown' }, body: VALID_TEXT, status: 415, errorCode: 41501 });
  add({ name: 'compress Content-Encoding', headers: { 'content-encoding': 'compress' }, body: VALID_TEXT, status: 415, errorCode: 41501 });
  add({ name: 'gzip header on plain body', headers: { 'content-encoding': 'gzip' }, body: VALID_TEXT, status: 400, errorCode: 40001 });
  add({ name: 'gzip of bad JSON', headers: { 'content-encoding': 'gzip' }, body: gzipSync('{"x":'), status: 400, errorCode: 40001 });

  // Issue #12: write amplification, limits in bytes, controls that would reach a terminal.
  const members = (n: number) => Array.from({ length: n }, (_, i) => ({ Member_Account: `m${i}` }));
  add({ name: '10,000 members under 128-byte U+2028 group ids (amplification)', body: json({ ...VALID, GroupId: '\u2028'.repeat(42), Operator_Account: '\u2028'.repeat(21), ExitMemberList: members(10000) }), params: { ClientIP: '\u0001'.repeat(64), OptPlatform: '\u0001'.repeat(32) }, status: 413, errorCode: 41302 });
  add({ name: 'GroupId of 43 three-byte characters (129 bytes)', body: withField('GroupId', '中'.repeat(43)), status: 400, errorCode: 40003 });
  add({ name: 'Member_Account of 17 four-byte emoji (68 bytes)', body: withField('ExitMemberList', [{ Member_Account: '😀'.repeat(17) }]), status: 400, errorCode: 40003 });
  add({ name: 'Operator_Account of 65 bytes', body: withField('Operator_Account', 'é'.repeat(32) + 'x'), status: 400, errorCode: 40003 });
  add({ name: 'Type of 33 bytes', body: withField('Type', 'T'.repeat(33)), status: 400, errorCode: 40003 });
  add({ name: 'ClientIP of 65 bytes', params: { ClientIP: 'é'.repeat(33) }, body: VALID_TEXT, status: 400, errorCode: 40006 });
  add({ name: 'OptPlatform of 33 bytes', params: { OptPlatform: 'x'.repeat(33) }, body: VALID_TEXT, status: 400, errorCode: 40006 });
  for (const [name, c] of [['CSI U+009B', '\u009b'], ['OSC U+009D', '\u009d'], ['ESC', '\u001b'], ['RLO U+202E', '\u202e'], ['BOM U+FEFF', '\ufeff']]) {
    add({ name: `bad JSON quoting ${name} (the reply shows it escaped)`, body: `{"GroupId": ${c}[2J${c}]0;x\u0007}`, status: 400, errorCode: 40001 });
  }
  add({ name: 'a query command with controls (mismatch detail escaped)', params: { CallbackCommand: 'Group.CallbackAfterMemberExit' }, body: withField('CallbackCommand', 'X\u009b2J\u202e'), status: 400, errorCode: 40004 });
  add({ name: 'schema error on 10,000 bad members', body: withField('ExitMemberList', Array.from({ length: 10000 }, () => ({ Member_Account: 7 }))), status: 400, errorCode: 40003 });
  return cases;
}
