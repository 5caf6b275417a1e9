import t from 'tap';
import { buildCallbacks, TABLE } from '../../src/callbacks/index.js';
import { COMMAND, memberExit } from '../../src/callbacks/member-exit.js';
import { ConfigError } from '../../src/config.js';
import { AppError } from '../../src/errors.js';

const mod = memberExit.build({ bodyBytes: 1 << 20, members: 3, accountBytes: 16, groupIdBytes: 16, wordBytes: 16 });
const facts = { sdkAppId: '1400000000', clientIp: null, optPlatform: null, receivedAt: 0 };
const good = { CallbackCommand: COMMAND, GroupId: 'g', Type: 'Public', ExitType: 'Quit', Operator_Account: 'u', ExitMemberList: [{ Member_Account: 'u' }] };

async function reason(body: unknown): Promise<string> {
  try {
    await mod.toLines(body, facts);
    return 'accepted';
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return `${err.code}: ${err.detail}`;
  }
}

t.test('the table holds the audited commands, each on by default and able to be turned off', async (t) => {
  t.same(TABLE.map((e) => e.command), ['Group.CallbackAfterMemberExit', 'Group.CallbackAfterGroupDestroyed']);
  const limits = { accountBytes: 64, groupIdBytes: 64, wordBytes: 64 } as never;
  t.same([...buildCallbacks({ audit: { commands: {} }, limits } as never).keys()], TABLE.map((e) => e.command));
  const off = buildCallbacks({ audit: { commands: { 'Group.CallbackAfterGroupDestroyed': { enabled: false } } }, limits } as never);
  t.same([...off.keys()], ['Group.CallbackAfterMemberExit']);
  const own = buildCallbacks({ audit: { commands: { 'Group.CallbackAfterMemberExit': { bodyBytes: 4096 } } }, limits } as never);
  t.equal(own.get(COMMAND)!.bodyBytes, 4096, 'a configured limit');
  t.equal(own.get('Group.CallbackAfterGroupDestroyed')!.bodyBytes, 8 * 1024 * 1024, 'a default limit');
  t.throws(() => buildCallbacks({ audit: { commands: { 'Group.CallbackBeforeSendMsg': { enabled: true } } }, limits } as never), ConfigError);
  t.throws(() => buildCallbacks({ audit: { commands: { Nope: {} } }, limits } as never), /\/audit\/commands\/Nope: not an audited command \(one of "Group.CallbackAfterMemberExit", "Group.CallbackAfterGroupDestroyed"\)/);
});

t.test('accepts the documented shapes', async (t) => {
  for (const body of [
    good,
    { ...good, EventTime: 1670574414123 },
    { ...good, EventTime: '1670574414123' },
    { ...good, EventTime: 0 },
    { ...good, ExitType: 'Kicked', Operator_Account: 'admin' },
    { ...good, Operator_Account: '' },
    { ...good, Type: 'SomeFutureType', Unknown: { deep: [1] } },
    { ...good, ExitMemberList: [{ Member_Account: 'a' }, { Member_Account: 'b' }, { Member_Account: 'c' }] },
    { ...good, GroupId: 'x'.repeat(16) },
  ]) {
    t.equal(await reason(body), 'accepted', JSON.stringify(body).slice(0, 100));
  }
});

t.test('refuses, naming the field', async (t) => {
  const cases: [unknown, RegExp][] = [
    [null, /\(top level\): must be object/],
    [[], /\(top level\): must be object/],
    [{ ...good, CallbackCommand: 'X' }, /\/CallbackCommand/],
    [{ ...good, GroupId: '' }, /\/GroupId: must not have fewer than 1/],
    [{ ...good, GroupId: 'x'.repeat(17) }, /\/GroupId: must not have more than 16/],
    [{ ...good, Type: 3 }, /\/Type: must be string/],
    [{ ...good, ExitType: 'kicked' }, /\/ExitType/],
    [{ ...good, Operator_Account: null }, /\/Operator_Account: must be string/],
    [{ ...good, ExitMemberList: [] }, /\/ExitMemberList: must not have fewer than 1/],
    [{ ...good, ExitMemberList: {} }, /\/ExitMemberList: must be array/],
    [{ ...good, ExitMemberList: [{}] }, /\/ExitMemberList\/0\/Member_Account: is required/],
    [{ ...good, ExitMemberList: ['jared'] }, /\/ExitMemberList\/0: must be object/],
    [{ ...good, ExitMemberList: Array(4).fill({ Member_Account: 'a' }) }, /\/ExitMemberList: must not have more than 3/],
    [{ ...good, EventTime: -1 }, /\/EventTime/],
    [{ ...good, EventTime: 1.5 }, /\/EventTime: must be integer or must be string/],
    [{ ...good, EventTime: '1e12' }, /\/EventTime/],
    [{ ...good, EventTime: '999999999999999' }, /\/EventTime: must not be after year 9999/],
    [{ ...good, EventTime: 1e300 }, /\/EventTime/],
    [{ ...good, EventTime: null }, /\/EventTime/],
  ];
  for (const [body, why] of cases) {
    const r = await reason(body);
    t.match(r, /^INVALID_CALLBACK: /, JSON.stringify(body)?.slice(0, 80));
    t.match(r, why);
  }
});
