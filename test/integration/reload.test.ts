/**
 * Token rotation without losing callbacks (issue #14): several tokens per app, and SIGHUP re-reads
 * apps, tokens, token files and allowSources from the config without a restart.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { sign } from '../../src/http/signature.js';
import { readLines } from '../helpers/lines.js';
import { sendMany } from '../helpers/load.js';
import { runListening } from '../helpers/process.js';
import { exitBody, post } from '../helpers/service.js';

const signed = (token: string) => {
  const time = String(Math.floor(Date.now() / 1000));
  return { RequestTime: time, Sign: sign(token, time) };
};

t.test('two tokens at once, the old one removed by SIGHUP, nothing lost during the change', async (t) => {
  const dir = t.testdir({ 'old.token': 'old-token\n' });
  const config = join(dir, 'config.json');
  const file = join(dir, 'audit.ndjson');
  const write = (app: Record<string, unknown>, more: Record<string, unknown> = {}) =>
    writeFileSync(config, JSON.stringify({ apps: [{ sdkAppId: '1400000000', ...app }], ...more }));
  // Day one: only the old token, from a file (as systemd's LoadCredential= provides it).
  write({ tokenFile: join(dir, 'old.token') });
  const p = await runListening(['--config', config], { AUDIT_FILE: file, LOG_LEVEL: 'info' }, dir);
  t.teardown(() => p.child.kill('SIGKILL'));
  t.equal((await post(p.port, exitBody(), signed('old-token'))).status, 200, 'old token accepted');
  t.equal((await post(p.port, exitBody(), signed('new-token'))).status, 401, 'new token not yet');

  // Step 1: add the new token before the IM console changes; reload while callbacks keep coming.
  const reloads = () => p.logs.filter((r) => r.msg === 'config reloaded').length;
  let stop = false;
  let phase = 'old-token';
  const load = sendMany(p.port, {
    total: 100000,
    connections: 8,
    stopWhen: () => stop,
    params: () => signed(phase),
  });
  write({ tokenFile: join(dir, 'old.token'), tokens: ['new-token'] });
  p.child.kill('SIGHUP');
  const first = await p.waitFor((r) => r.msg === 'config reloaded');
  t.match(first, { level: 30, reloaded: ['apps'], tokens: { '1400000000': 2 } }, 'says what was reloaded and how many tokens each app has');
  t.notMatch(JSON.stringify(p.logs), /new-token|old-token/, 'never the tokens themselves');
  // Step 2: the console now signs with the new token.
  phase = 'new-token';
  await new Promise((r) => setTimeout(r, 200));
  // Step 3: remove the old token.
  write({ tokens: ['new-token'] });
  p.child.kill('SIGHUP');
  await p.waitFor(() => reloads() === 2);
  await new Promise((r) => setTimeout(r, 200));
  stop = true;
  const sent = await load;
  t.equal(sent.refused.length + sent.errors.length, 0, `${sent.acked.length} callbacks during the change, none refused`);
  const members = new Set(readLines(file).map((l) => l.member));
  t.equal(sent.acked.flat().filter((m) => !members.has(m)).length, 0, 'every acknowledged member is in the file');

  t.equal((await post(p.port, exitBody(), signed('old-token'))).status, 401, 'old token refused after its removal');
  t.equal((await post(p.port, exitBody(), signed('new-token'))).status, 200, 'new token accepted');

  // A broken config on reload: the running one stays, and says so.
  writeFileSync(config, '{"apps": [');
  p.child.kill('SIGHUP');
  const failed = await p.waitFor((r) => r.msg === 'config reload failed; the running config stays');
  t.equal(failed.level, 50);
  t.equal((await post(p.port, exitBody(), signed('new-token'))).status, 200, 'still running on the last good config');

  // allowSources reloads too; a key that needs a restart is named, not applied.
  write({ tokens: ['new-token'] }, { allowSources: ['10.9.9.9'], shutdownGraceMs: 1234 });
  p.child.kill('SIGHUP');
  const third = await p.waitFor((r) => r.msg === 'config reloaded' && reloads() === 3);
  t.same(third.reloaded, ['allowSources']);
  t.match(await p.waitFor((r) => r.msg === 'config changes that need a restart were not applied'), { level: 40, keys: ['shutdownGraceMs'] });
  t.equal((await post(p.port, exitBody(), signed('new-token'))).status, 403, '127.0.0.1 is no longer an allowed source');
  p.child.kill('SIGTERM');
  t.equal((await p.exited).code, 0);
});

t.test('the listening line is shown at any log level, with the version', async (t) => {
  const dir = t.testdir();
  const p = await runListening([], { LOG_LEVEL: 'warn' }, dir);
  t.teardown(() => p.child.kill('SIGKILL'));
  const line = p.logs.find((r) => r.msg === 'listening')!;
  t.match(line, { level: 30, port: p.port, version: /^\d+\.\d+\.\d+/, node: process.version });
  t.ok(await p.waitFor((r) => r.msg === 'admin listening'), 'and the admin port');
  t.notOk(p.logs.some((r) => r.msg === 'audit file open'), 'other info lines stay hidden at warn');
  p.child.kill('SIGTERM');
  await p.exited;
});
