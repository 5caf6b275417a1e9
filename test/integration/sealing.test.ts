/**
 * Sealing as an operator meets it, through the built CLI and the service as a real process:
 * setup-keys makes the state once and prints the key; a service without a state warns at every
 * start (or refuses, with audit.seal.required); with one, it seals every epoch, idle ones too, and
 * after a stop seals the epochs it missed before it writes anything else; verify passes.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { cli } from '../helpers/cli.js';
import { run, runListening } from '../helpers/process.js';
import { exitBody, post } from '../helpers/service.js';
import { isSeal, readTrail, sealOf, tempDir } from '../helpers/sealed-trail.js';

/** A config file with the trail and the state in `dir`; `audit` laid over. */
function configIn(dir: string, audit: Record<string, unknown> = {}): { config: string; file: string; stateFile: string } {
  const file = join(dir, 'trail', 'member-exit.ndjson');
  const stateFile = join(dir, 'state', 'seal.state');
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ audit: { file, ...audit, seal: { stateFile, ...(audit.seal as object) } } }));
  return { config, file, stateFile };
}

const KEY = /[0-9a-f]{64}\/[0-9a-f]+-[0-9a-f]+/;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves once `pred` holds of the trail's lines (read every 50 ms). */
async function until(file: string, pred: (lines: ReturnType<typeof readTrail>) => boolean): Promise<void> {
  for (;;) {
    try {
      if (pred(readTrail(file))) return;
    } catch {
      // not there yet
    }
    await sleep(50);
  }
}

t.test('setup-keys: the state once, readable by its owner only; the key printed; no overwrite without --force', async (t) => {
  const { config, stateFile } = configIn(tempDir(t));
  const made = await cli(['setup-keys', '--config', config]);
  t.equal(made.code, 0, made.stderr);
  t.match(made.stdout, 'keep it OFF this machine');
  t.match(made.stdout, 'epochs of 15m');
  const key = KEY.exec(made.stdout)![0];
  t.equal(statSync(stateFile).mode & 0o777, 0o600);
  t.match(JSON.parse(readFileSync(stateFile, 'utf8')), { epoch: 0, key: key.slice(0, 64) }, 'epoch 0\'s key, until epoch 0 ends');
  const before = readFileSync(stateFile);
  const again = await cli(['setup-keys', '--config', config]);
  t.equal(again.code, 1);
  t.match(again.stderr, 'exists: the service may be sealing with it. Replacing it needs --force');
  t.same(readFileSync(stateFile), before, 'untouched');
  const forced = await cli(['setup-keys', '--config', config, '--force', '--interval', '1h']);
  t.equal(forced.code, 0);
  t.not(KEY.exec(forced.stdout)![0], key, 'a new key');
  t.equal((await cli(['setup-keys', '--config', config, '--force', '--interval', '10ms'])).code, 2, 'an epoch under a second is refused');
});

t.test('no state: the service starts chained, and warns at every start; audit.seal.required refuses', async (t) => {
  const dir = tempDir(t);
  const { config } = configIn(dir);
  for (let i = 0; i < 2; i++) {
    const p = await runListening(['--config', config], {}, dir);
    const warn = await p.waitFor((r) => typeof r.msg === 'string' && r.msg.startsWith('sealing is OFF'));
    t.equal(warn.level, 40, `start ${i + 1}: a warn line`);
    p.child.kill('SIGTERM');
    await p.exited;
  }
  const strict = configIn(tempDir(t), { seal: { required: true } });
  const p = run(['--config', strict.config], { PORT: '0', ADMIN_PORT: '0' });
  t.equal((await p.exited).code, 1);
  t.match(JSON.stringify(p.logs), 'audit.seal.required is true: run member-exit-audit setup-keys');
});

t.test('a state with audit.chain false: refused, since seals cover the chain', async (t) => {
  const { config } = configIn(tempDir(t), { chain: false });
  t.equal((await cli(['setup-keys', '--config', config])).code, 0);
  const p = run(['--config', config], { PORT: '0', ADMIN_PORT: '0' });
  t.equal((await p.exited).code, 1);
  t.match(JSON.stringify(p.logs), 'audit.chain is false but the sealing state');
});

t.test('one-second epochs: each sealed, idle ones too; a stop\'s missed epochs sealed at the next start, first; verify passes', { timeout: 60000 }, async (t) => {
  const dir = tempDir(t);
  const { config, file } = configIn(dir);
  const made = await cli(['setup-keys', '--config', config, '--interval', '1s']);
  const key = KEY.exec(made.stdout)![0];
  let p = await runListening(['--config', config], {}, dir);
  await p.waitFor((r) => r.msg === 'sealing on');
  for (let i = 0; i < 3; i++) t.equal((await post(p.port, exitBody({ ExitMemberList: [{ Member_Account: `a${i}` }], EventTime: 1670574414000 + i }))).status, 200);
  // Three more epochs end with no traffic at all.
  const finals = (lines: ReturnType<typeof readTrail>) => lines.filter((l) => isSeal(l) && sealOf(l).final);
  await until(file, (lines) => finals(lines).length >= 4);
  p.child.kill('SIGTERM');
  await p.exited;
  const stopped = readTrail(file);
  const lastEpoch = sealOf(finals(stopped).at(-1)!).epoch;
  // Down for two epochs or more.
  await sleep(2500);
  p = await runListening(['--config', config], {}, dir);
  await until(file, (lines) => lines.length > stopped.length);
  t.equal((await post(p.port, exitBody({ ExitMemberList: [{ Member_Account: 'after' }] }))).status, 200);
  p.child.kill('SIGTERM');
  await p.exited;
  const lines = readTrail(file);
  const atStart = lines.slice(stopped.length, lines.findIndex((l) => l.text.includes('"member":"after"')));
  t.ok(atStart.length >= 2 && atStart.every((l) => isSeal(l) && sealOf(l).final), 'the first lines after the restart are closing seals');
  t.same(atStart.map((l) => sealOf(l).epoch), atStart.map((_, i) => lastEpoch + 1 + i), 'one for each epoch missed, in order');
  const all = finals(lines).map((l) => sealOf(l).epoch);
  t.same(all, all.map((_, i) => i), 'every epoch from 0 closed once');
  const res = await cli(['verify', '--genesis', '--verify-key', key], { env: { AUDIT_FILE: file } });
  t.equal(res.code, 0, res.stdout);
});
