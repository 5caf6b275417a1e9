import t from 'tap';
import { AppError } from '../../src/errors.js';
import { parseQuery } from '../../src/http/query.js';

t.test('parameters by name, decoded', async (t) => {
  t.same({ ...parseQuery('/?SdkAppid=1400000000&CallbackCommand=Group.CallbackAfterMemberExit&OptPlatform=Mac%20OS&x=a+b&empty=&flag') }, {
    SdkAppid: '1400000000',
    CallbackCommand: 'Group.CallbackAfterMemberExit',
    OptPlatform: 'Mac OS',
    x: 'a b',
    empty: '',
    flag: '',
  });
  t.same({ ...parseQuery('/') }, {});
  t.same({ ...parseQuery('/?') }, {});
});

t.test('a repeated name gives every value, for the route to refuse', async (t) => {
  t.same(parseQuery('/?a=1&a=2&a=3').a, ['1', '2', '3']);
});

t.test('no prototype games; bad percent-encoding is a BAD_QUERY', async (t) => {
  const q = parseQuery('/?__proto__=x&constructor=y');
  t.equal(Object.getPrototypeOf(q), null);
  t.equal(q['__proto__'], 'x');
  t.equal(({} as Record<string, unknown>).x, undefined);
  let caught: unknown;
  try {
    parseQuery('/?a=%E0%A4%A');
  } catch (err) {
    caught = err;
  }
  t.ok(caught instanceof AppError && caught.code === 'BAD_QUERY', 'BAD_QUERY');
});
