import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { VERSION } from '../../src/version.js';
import { cli } from '../helpers/cli.js';

t.test('--version prints the package version', async (t) => {
  const r = await cli(['--version']);
  t.equal(r.code, 0);
  t.equal(r.stdout, `member-exit-audit ${VERSION}\n`);
  t.match(VERSION, /^\d+\.\d+\.\d+/);
});

t.test('check-config: exit 0 and what was checked, or exit 2 and every problem; never a token', async (t) => {
  const dir = t.testdir({
    token: 'super-secret-token\n',
    'bad.json': JSON.stringify({ audit: { durability: 'sometimes', commands: { 'Group.Nope': {} } } }),
  });
  const good = join(dir, 'good.json');
  writeFileSync(good, JSON.stringify({ apps: [{ sdkAppId: '1400000000', tokenFile: join(dir, 'token') }], audit: { file: '/var/log/member-exit-audit/member-exit.ndjson' } }));
  const ok = await cli(['check-config', '--config', good]);
  t.equal(ok.code, 0);
  t.equal(ok.stdout, `member-exit-audit: config OK (${good}): 1 app(s), audit file /var/log/member-exit-audit/member-exit.ndjson, audited Group.CallbackAfterMemberExit, Group.CallbackAfterGroupDestroyed; WARNING: sealing is OFF: no sealing state at var/seal/seal.state (run member-exit-audit setup-keys, then restart)\n`);
  t.notMatch(ok.stdout + ok.stderr, 'super-secret');
  const env = await cli(['check-config'], { env: { MEMBER_EXIT_AUDIT_CONFIG: good } });
  t.equal(env.code, 0, 'MEMBER_EXIT_AUDIT_CONFIG, as serve reads it');
  const unsigned = await cli(['check-config']);
  t.equal(unsigned.code, 0);
  t.match(unsigned.stdout, 'WARNING: no token for 1400000000');
  const absent = join(dir, 'absent.json');
  writeFileSync(absent, JSON.stringify({ apps: [{ sdkAppId: '1400000000', tokenFile: join(dir, 'no-token-yet') }] }));
  const notYet = await cli(['check-config', '--config', absent]);
  t.equal(notYet.code, 0, 'a token file not yet in place does not stop the service');
  t.match(notYet.stdout, `WARNING: token file missing for 1400000000 (${join(dir, 'no-token-yet')}): none of its callbacks is taken (503 TOKEN_MISSING) until it is in place`);
  t.notMatch(notYet.stdout, 'no token for', 'and is not mistaken for an app without authentication');
  const bad = await cli(['check-config', '--config', join(dir, 'bad.json')]);
  t.equal(bad.code, 2);
  t.equal(bad.stdout, '');
  t.match(bad.stderr, /^member-exit-audit: invalid config:\n  - \/audit\/durability: must be one of "fsync", "write"/);
  const cmds = await cli(['check-config', '--config', join(dir, 'bad.json')], { env: { DURABILITY: 'write' } });
  t.equal(cmds.code, 2, 'the audited commands are checked too');
  t.match(cmds.stderr, '/audit/commands/Group.Nope: not an audited command');
  // Tamper evidence, as serve decides it at start (issue #21).
  const state = join(dir, 'seal.state');
  const sealCfg = (over: Record<string, unknown>) => {
    const p = join(dir, `seal-${Math.random()}.json`);
    writeFileSync(p, JSON.stringify({ audit: { seal: { stateFile: state }, ...over } }));
    return p;
  };
  const required = await cli(['check-config', '--config', sealCfg({ seal: { stateFile: state, required: true } })]);
  t.equal(required.code, 2, 'a required sealing state that is not there: serve would not start');
  t.match(required.stderr, `/audit/seal/required: true, but there is no sealing state at ${state}`);
  t.equal((await cli(['setup-keys', '--config', sealCfg({})])).code, 0);
  t.match((await cli(['check-config', '--config', sealCfg({})])).stdout, `; chained and sealed (state ${state})`);
  const unchained = await cli(['check-config', '--config', sealCfg({ chain: false })]);
  t.equal(unchained.code, 2, 'a state without the chain: serve would not start');
  t.match(unchained.stderr, '/audit/chain: false, but the sealing state');
  t.equal((await cli(['check-config', '--bogus'])).code, 2);
  t.equal((await cli(['check-config', '--config', join(dir, 'missing.json')])).code, 2);
});

// Issue #22: a reader of the trail who is not the service user ran check-config and was told
// "invalid config" (EACCES on the credential): the service, which can read it, would start.
t.test('check-config by a user who may not read the token file: a WARNING saying so, exit 0; serve still refuses', async (t) => {
  const dir = t.testdir({ token: 'super-secret-token\n', 'bad.json': '{"apps": [' });
  const token = join(dir, 'token');
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ apps: [{ sdkAppId: '1400000000', tokenFile: token }] }));
  chmodSync(token, 0o600);
  // Root reads any file: as root, the reader is nobody; as anyone else, the file is made unreadable to its owner.
  const reader = process.getuid?.() === 0 ? 65534 : undefined;
  if (reader === undefined) chmodSync(token, 0o000);
  const uid = reader ?? process.getuid?.();
  const r = await cli(['check-config', '--config', config], { user: reader });
  t.equal(r.code, 0, 'the service would start');
  t.equal(r.stderr, '');
  t.match(r.stdout, /^member-exit-audit: config OK \(/);
  t.match(r.stdout, `; WARNING: cannot read token file for 1400000000 (${token}) as uid ${uid}: permission denied; not checked here (the service reads it as its own user: run check-config as that user to check it)\n`);
  t.notMatch(r.stdout, 'invalid config');
  t.notMatch(r.stdout, 'no token for', 'not mistaken for an app without authentication');

  const bad = await cli(['check-config', '--config', join(dir, 'bad.json')], { user: reader });
  t.equal(bad.code, 2, 'a config that is not JSON is still refused');
  t.match(bad.stderr, /is not valid JSON/);
  const serve = await cli(['serve', '--config', config], { user: reader, env: { PORT: '0', ADMIN_PORT: '0', AUDIT_FILE: join(dir, 'audit.ndjson') } });
  t.equal(serve.code, 2, 'the service itself, if it cannot read its token, does not start');
  t.match(serve.stderr, `/apps/0/tokenFile: cannot read ${token}: EACCES`);
});
