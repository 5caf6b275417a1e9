import { readFileSync, writeFileSync as writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ConfigError, loadConfig, overlay } from '../src/config.js';

t.test('config/default.json holds the documented defaults', async (t) => {
  const c = loadConfig({ env: {} });
  t.match(c, {
    listen: { host: '127.0.0.1', port: 8080 },
    callbackPath: '/',
    apps: [{ sdkAppId: '1400000000' }],
    audit: { file: 'var/audit/member-exit.ndjson', durability: 'fsync' },
    admin: { host: '127.0.0.1', port: 9464 },
    maxSkewSeconds: 60,
    limits: { otherBodyBytes: 16777216, requestDeadlineMs: 3000 },
    audit: { maxQueueBytes: 67108864, dedupWindowMs: 300000, dedupMaxIds: 100000, commands: {} },
  });
  t.ok(Object.isFrozen(c) && Object.isFrozen(c.audit) && Object.isFrozen(c.apps[0]), 'frozen');
  t.same(JSON.parse(readFileSync(new URL('../config/default.json', import.meta.url), 'utf8')).listen, { host: '127.0.0.1', port: 8080 });
});

t.test('environment overrides', async (t) => {
  const c = loadConfig({ env: { HOST: '0.0.0.0', PORT: '0', AUDIT_FILE: '/x/y.ndjson', SDKAPPID: '1400000001, 1400000002', DURABILITY: 'write', LOG_LEVEL: 'debug', ADMIN_PORT: '9999' } });
  t.match(c, { listen: { host: '0.0.0.0', port: 0 }, audit: { file: '/x/y.ndjson', durability: 'write' }, logLevel: 'debug', admin: { port: 9999 } });
  t.same(c.apps, [{ sdkAppId: '1400000001' }, { sdkAppId: '1400000002' }]);
});

t.test('SEAL_STATE_FILE names the sealing state and keeps the file\'s other seal settings', async (t) => {
  const dir = t.testdir({ 'c.json': JSON.stringify({ audit: { seal: { required: true } } }) });
  const c = loadConfig({ file: join(dir, 'c.json'), env: { SEAL_STATE_FILE: '/var/lib/member-exit-audit/9465/seal.state' } });
  t.same(c.audit.seal, { stateFile: '/var/lib/member-exit-audit/9465/seal.state', required: true });
});

t.test('SDKAPPID keeps the settings of apps the file already names; CALLBACK_TOKEN sets every token', async (t) => {
  const dir = t.testdir({ 'c.json': JSON.stringify({ apps: [{ sdkAppId: '1', token: 'one' }, { sdkAppId: '2' }] }) });
  const c = loadConfig({ file: join(dir, 'c.json'), env: { SDKAPPID: '1,3' } });
  t.same(c.apps, [{ sdkAppId: '1', tokens: ['one'] }, { sdkAppId: '3' }]);
  const d = loadConfig({ file: join(dir, 'c.json'), env: { CALLBACK_TOKEN: 'all' } });
  t.same(d.apps.map((a) => a.tokens), [['all'], ['all']]);
});

t.test('tokenFile is read at start (systemd LoadCredential=)', async (t) => {
  const dir = t.testdir({ tok: 's3cret\n', two: 'old\r\n\nnew\n', empty: '', 'c.json': '' });
  const write = (apps: unknown) => {
    const p = join(dir, `c${Math.random()}.json`);
    writeFileSync(p, JSON.stringify({ apps }));
    return p;
  };
  const c = loadConfig({ file: write([{ sdkAppId: '1', tokenFile: join(dir, 'tok') }]), env: {} });
  t.same(c.apps[0]!.tokens, ['s3cret'], 'trailing newline trimmed');
  // A token file not yet in place starts the service with the app refused (fail closed), so that
  // systemd's LoadCredential= of a missing credential never stops the unit; other read errors stop it.
  const absent = loadConfig({ file: write([{ sdkAppId: '1', tokenFile: join(dir, 'missing') }]), env: {} });
  t.same(absent.apps[0]!.tokens, [], 'a missing token file: no token signs');
  t.same(absent.apps[0]!.missingTokenFiles, [join(dir, 'missing')], 'and it is named for the warning');
  t.throws(() => loadConfig({ file: write([{ sdkAppId: '1', tokenFile: dir }]), env: {} }), /\/apps\/0\/tokenFile: cannot read .*EISDIR/, 'a token file that cannot be read is an error');
  const partly = loadConfig({ file: write([{ sdkAppId: '1', tokenFiles: [join(dir, 'missing'), join(dir, 'tok')] }]), env: {} });
  t.same(partly.apps[0]!.tokens, ['s3cret'], 'a missing file beside a present one: the present one signs');
  t.same(partly.apps[0]!.missingTokenFiles, [join(dir, 'missing')]);
  const unread = loadConfig({ file: write([{ sdkAppId: '1', tokenFile: dir }]), env: {}, readTokens: false });
  t.equal(unread.apps[0]!.tokens, undefined, 'query and verify read no token file (readTokens: false)');
  t.throws(() => loadConfig({ file: write([{ sdkAppId: '1', tokenFile: join(dir, 'empty') }]), env: {} }), /is empty/);
  const both = loadConfig({ file: write([{ sdkAppId: '1', token: 'a', tokens: ['b', 'a'], tokenFile: join(dir, 'tok'), tokenFiles: [join(dir, 'two')] }]), env: {} });
  t.same(both.apps[0]!.tokens, ['a', 'b', 's3cret', 'old', 'new'], 'token, tokens and every line of every token file, once each');
  t.throws(() => loadConfig({ file: write([{ sdkAppId: '1', tokenFiles: [dir] }]), env: {} }), /\/apps\/0\/tokenFiles: cannot read .*EISDIR/);
});

t.test('every problem is named in one error', async (t) => {
  const dir = t.testdir({
    'bad.json': JSON.stringify({ listen: { host: '', port: 70000, extra: 1 }, apps: [{ sdkAppId: '1' }, { sdkAppId: '1' }], audit: { durability: 'fast' }, nope: true, allowSources: ['10.0.0.0/99'] }),
    'dup.json': JSON.stringify({ apps: [{ sdkAppId: '1' }, { sdkAppId: '1' }], trustProxy: ['x'] }),
    'notjson.json': '{',
    'array.json': '[]',
  });
  const msg = (file: string) => {
    try {
      loadConfig({ file: join(dir, file), env: {} });
      return 'loaded';
    } catch (err) {
      t.type(err, ConfigError);
      return (err as Error).message;
    }
  };
  const bad = msg('bad.json');
  for (const p of ['/listen/host', '/listen/port', '/listen/extra: unknown key', '/audit/durability', '/nope: unknown key']) t.match(bad, p);
  const dup = msg('dup.json');
  t.match(dup, '/apps/1/sdkAppId: 1 is listed twice');
  t.match(dup, '/trustProxy: x is not an IPv4 or IPv6 address or CIDR');
  t.match(msg('notjson.json'), /is not valid JSON/);
  t.match(msg('array.json'), /top level is not an object/);
  t.match(msg('missing.json'), /cannot read config file .*ENOENT/);
});

t.test('overlay merges objects and replaces arrays', async (t) => {
  t.same(overlay({ a: { b: 1, c: 2 }, l: [1, 2] }, { a: { c: 3 }, l: [9] }), { a: { b: 1, c: 3 }, l: [9] });
});

t.test('errors name the allowed values, sorted by where they are, the same every time', async (t) => {
  const dir = t.testdir({ 'bad.json': JSON.stringify({ logLevel: 'loud', listen: { port: 'eighty' }, audit: { durability: 'sometimes' }, colour: 'blue' }) });
  let first = '';
  for (let i = 0; i < 3; i++) {
    try {
      loadConfig({ file: join(dir, 'bad.json'), env: {} });
    } catch (err) {
      const text = (err as Error).message;
      if (!first) first = text;
      t.equal(text, first, 'the same message every time');
    }
  }
  t.equal(
    first,
    'invalid config:\n' +
      '  - /audit/durability: must be one of "fsync", "write"\n' +
      '  - /colour: unknown key\n' +
      '  - /listen/port: must be integer\n' +
      '  - /logLevel: must be one of "fatal", "error", "warn", "info", "debug", "trace", "silent"',
  );
});

t.test('a malformed config file is located, never quoted: it may hold a token', async (t) => {
  const dir = t.testdir({ 'c.json': '{\n  "apps": [{ "sdkAppId": "1", "token": SUPERSECRETTOKEN }]\n}\n', 'short.json': '{"apps": [{"token": "SUPERSECRET' });
  t.throws(() => loadConfig({ file: join(dir, 'c.json'), env: {} }), { message: `config file ${join(dir, 'c.json')} is not valid JSON (find where with: jq . FILE)` });
  t.throws(() => loadConfig({ file: join(dir, 'short.json'), env: {} }), { message: `config file ${join(dir, 'short.json')} is not valid JSON (line 1, column 33)` });
  for (const f of ['c.json', 'short.json']) {
    try {
      loadConfig({ file: join(dir, f), env: {} });
      t.fail('loaded');
    } catch (err) {
      t.notMatch((err as Error).message, /SUPERSECRE|SUPER/, `${f}: no part of the token`);
    }
  }
});

t.test('limits of an older version are named with where they moved', async (t) => {
  const dir = t.testdir({ 'old.json': JSON.stringify({ limits: { bodyBytes: 2097152, membersPerCallback: 20 } }) });
  t.throws(() => loadConfig({ file: join(dir, 'old.json'), env: {} }), {
    message:
      'invalid config:\n' +
      '  - /limits/bodyBytes: moved to audit.commands["Group.CallbackAfterMemberExit"].bodyBytes (each audited command has its own)\n' +
      '  - /limits/membersPerCallback: moved to audit.commands["Group.CallbackAfterMemberExit"].members',
  });
});
