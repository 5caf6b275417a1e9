/**
 * Property-based tests (fast-check): generated bodies against the schema and the route. For every
 * input: a FAIL reply from the error table or an OK that the schema backs; the file grows only by
 * the lines of an accepted callback; and the service keeps answering.
 */
import { statSync } from 'node:fs';
import fc from 'fast-check';
import t from 'tap';
import { Compile } from 'typebox/compile';
import { AuditLineSchema } from '../../src/audit/line.js';
import { buildCallbacks } from '../../src/callbacks/index.js';
import { COMMAND, memberExit, memberExitSchema } from '../../src/callbacks/member-exit.js';
import { loadConfig } from '../../src/config.js';
import { AppError, ERRORS } from '../../src/errors.js';
import { readLines } from '../helpers/lines.js';
import { exitBody, post, startTest } from '../helpers/service.js';

const config = loadConfig({ env: {} });
const limits = { ...config.limits, ...memberExit.defaults };
const mod = buildCallbacks(config).get(COMMAND)!;
const schema = Compile(memberExitSchema(limits));
const line = Compile(AuditLineSchema);
const facts = { sdkAppId: '1400000000', clientIp: '1.2.3.4', optPlatform: 'Web', receivedAt: Date.now() };
const codes = new Set(Object.values(ERRORS).map((e) => e.errorCode));

// Account strings with every awkward character class; U+FFFD is left out because a body
// holding it is refused as invalid UTF-8 (docs/security.md), and Tencent UserIDs never hold it.
const awkward = fc.constantFrom('\n', '\r', '"', '\\', '\u0000', '\u001f', '\u007f', '\u2028', '\u2029', '😀', '\ud800', '</', '${', ' ');
const account = fc
  .array(fc.oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }), awkward), { minLength: 1, maxLength: 6 })
  .map((parts) => parts.join('').replace(/\uFFFD/g, '?'))
  .filter((s) => s.length > 0 && Buffer.byteLength(s) <= limits.accountBytes);

/** A value for each field: often right, sometimes anything at all. */
const field = <T>(good: fc.Arbitrary<T>) => fc.oneof({ weight: 19, arbitrary: good }, { weight: 1, arbitrary: fc.jsonValue() });
const KEYS = ['CallbackCommand', 'GroupId', 'Type', 'ExitType', 'Operator_Account', 'ExitMemberList'] as const;
const fullBody = fc.record(
  {
    CallbackCommand: field(fc.constant(COMMAND)),
    GroupId: field(account),
    Type: field(fc.constantFrom('Public', 'Work', 'AVChatRoom', 'Community')),
    ExitType: field(fc.constantFrom('Kicked', 'Quit')),
    Operator_Account: field(account),
    ExitMemberList: field(fc.array(fc.record({ Member_Account: account }), { minLength: 1, maxLength: 5 })),
    EventTime: field(fc.oneof(fc.nat({ max: 4102444800000 }), fc.nat({ max: 4102444800000 }).map(String))),
    Extra: fc.jsonValue(),
  },
  { requiredKeys: [...KEYS] },
);
/** Sometimes one required key is dropped. */
const body = fc.tuple(fullBody, fc.oneof({ weight: 5, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom(...KEYS) })).map(([b, drop]) => {
  const out: Record<string, unknown> = { ...b };
  if (drop) delete out[drop];
  return out;
});

t.test('schema property: any JSON value is either refused with INVALID_CALLBACK or gives valid lines', async (t) => {
  let accepted = 0;
  await fc.assert(
    fc.asyncProperty(fc.oneof(body, fc.jsonValue()), async (b) => {
      let out;
      try {
        out = await mod.toLines(b, facts);
      } catch (err) {
        if (!(err instanceof AppError) || err.code !== 'INVALID_CALLBACK' || !/^callback body does not match the schema: \S/.test(err.message)) throw err;
        return !schema.Check(b) || Number((b as { EventTime?: unknown }).EventTime) > 253402300799999;
      }
      accepted++;
      if (!schema.Check(b)) return false;
      const lines = out.text.toString().split('\n');
      if (lines.pop() !== '' || lines.length !== out.count) return false;
      const members = new Set((b as { ExitMemberList: { Member_Account: string }[] }).ExitMemberList.map((m) => m.Member_Account));
      return lines.length === members.size && lines.every((l) => line.Check(JSON.parse(l)) && members.has(JSON.parse(l).member));
    }),
    { numRuns: 3000 },
  );
  t.ok(accepted > 100, `${accepted} accepted of 3000 (the generator reaches both sides)`);
});

t.test('route property: FAIL from the table or OK backed by the schema; the file grows only by accepted lines', async (t) => {
  const svc = await startTest(t);
  let size = 0;
  let ok = 0;
  let fail = 0;
  await fc.assert(
    fc.asyncProperty(fc.oneof({ weight: 6, arbitrary: body.map((b) => JSON.stringify(b)) }, fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)), fc.string({ unit: 'binary', maxLength: 200 })), async (raw) => {
      const res = await post(svc.port, raw);
      const grown = statSync(svc.file).size - size;
      size += grown;
      if (res.status === 200) {
        ok++;
        const parsed = JSON.parse(raw.toString());
        return res.json.ActionStatus === 'OK' && schema.Check(parsed) && grown > 0;
      }
      fail++;
      return res.json.ActionStatus === 'FAIL' && codes.has(res.json.ErrorCode!) && res.status >= 400 && grown === 0;
    }),
    { numRuns: 400 },
  );
  t.ok(ok > 20 && fail > 20, `${ok} accepted, ${fail} refused`);
  t.equal((await post(svc.port, exitBody())).status, 200, 'a valid callback still succeeds');
  t.equal(readLines(svc.file).length > ok, true, 'every line in the file parses against the line schema');
});

t.test('valid callbacks with awkward accounts: one JSON line each, round-tripping exactly', async (t) => {
  const svc = await startTest(t);
  let seen = 0;
  await fc.assert(
    fc.asyncProperty(account, account, async (member, operator) => {
      const res = await post(svc.port, exitBody({ Operator_Account: operator, ExitMemberList: [{ Member_Account: member }] }));
      const lines = readLines(svc.file);
      seen++;
      const last = lines[lines.length - 1]!;
      return res.status === 200 && lines.length === seen && last.member === member && last.operator === operator;
    }),
    { numRuns: 200 },
  );
  t.equal(readLines(svc.file).length, 200);
});
