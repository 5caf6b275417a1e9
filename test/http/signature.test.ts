import t from 'tap';
import { AppError } from '../../src/errors.js';
import { checkSign, sign } from '../../src/http/signature.js';

const NOW = 1669872112 * 1000;
const code = (fn: () => void) => {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return (err as AppError).code;
  }
};

t.test("Tencent's worked example", async (t) => {
  t.equal(sign('xxxxyyyy', '1669872112'), '17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061');
  t.equal(code(() => checkSign(['xxxxyyyy'], '17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061', '1669872112', NOW, 60)), 'ok');
});

t.test('missing, malformed, stale, wrong', async (t) => {
  const good = sign('xxxxyyyy', '1669872112');
  t.equal(code(() => checkSign(['xxxxyyyy'], undefined, '1669872112', NOW, 60)), 'AUTH_MISSING');
  t.equal(code(() => checkSign(['xxxxyyyy'], good, undefined, NOW, 60)), 'AUTH_MISSING');
  t.equal(code(() => checkSign(['xxxxyyyy'], good.toUpperCase(), '1669872112', NOW, 60)), 'AUTH_MALFORMED');
  t.equal(code(() => checkSign(['xxxxyyyy'], good.slice(1), '1669872112', NOW, 60)), 'AUTH_MALFORMED');
  t.equal(code(() => checkSign(['xxxxyyyy'], good, '1669872112.5', NOW, 60)), 'AUTH_MALFORMED');
  t.equal(code(() => checkSign(['xxxxyyyy'], good, '-1', NOW, 60)), 'AUTH_MALFORMED');
  t.equal(code(() => checkSign(['xxxxyyyy'], good, '1669872112', NOW + 61_000, 60)), 'AUTH_STALE', 'too old');
  t.equal(code(() => checkSign(['xxxxyyyy'], good, '1669872112', NOW - 61_000, 60)), 'AUTH_STALE', 'from the future');
  t.equal(code(() => checkSign(['xxxxyyyy'], good, '1669872112', NOW + 60_000, 60)), 'ok', '60 s is still inside the window');
  t.equal(code(() => checkSign(['xxxxyyyy'], sign('xxxxyyyy', '1669872113'), '1669872112', NOW, 60)), 'AUTH_BAD_SIGN', 'sign of another time');
  t.equal(code(() => checkSign(['other'], good, '1669872112', NOW, 60)), 'AUTH_BAD_SIGN', 'another token');
});

t.test('errors never carry the token or the expected sign', async (t) => {
  const expected = sign('s3cr3t-token', '1669872112');
  for (const args of [
    ['0'.repeat(64), '1669872112', NOW],
    ['0'.repeat(64), '1', NOW],
    ['zz', '1669872112', NOW],
  ] as const) {
    try {
      checkSign(['s3cr3t-token'], args[0], args[1], args[2], 60);
      t.fail('should throw');
    } catch (err) {
      const text = JSON.stringify({ m: (err as Error).message, d: (err as AppError).detail });
      t.notMatch(text, 's3cr3t');
      t.notMatch(text, expected);
    }
  }
});

t.test('several tokens (a rotation in progress): a sign made with any of them passes', async (t) => {
  const time = '1669872112';
  t.equal(code(() => checkSign(['old-token', 'new-token'], sign('old-token', time), time, NOW, 60)), 'ok', 'the old one');
  t.equal(code(() => checkSign(['old-token', 'new-token'], sign('new-token', time), time, NOW, 60)), 'ok', 'the new one');
  t.equal(code(() => checkSign(['new-token'], sign('old-token', time), time, NOW, 60)), 'AUTH_BAD_SIGN', 'the old one once removed');
});
