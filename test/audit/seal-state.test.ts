/**
 * The key's evolution survives a kill at any point: node:fs replaced (t.mockImport) by one that
 * dies at its n-th call, for every n, in the state file's replacement alone and in the service's
 * writer flow; then a real process killed with SIGKILL while it evolves as fast as it can. After
 * each death the state holds the key of the epoch it held or of the next, never an older one, and
 * the service started again on it seals a trail that verify passes.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs, { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { evolveBy, KEY_BYTES } from '../../src/audit/seal-key.js';
import { firstState, loadState, storeState } from '../../src/audit/seal-state.js';
import { cli } from '../helpers/cli.js';
import { Box, EPOCH, tempDir } from '../helpers/sealed-trail.js';

type StateModule = typeof import('../../src/audit/seal-state.js');
type SealerModule = typeof import('../../src/audit/sealer.js');

/** The file-system calls an evolution makes. */
const CALLS = ['openSync', 'writeSync', 'fdatasyncSync', 'fsyncSync', 'closeSync', 'renameSync', 'fchownSync', 'rmSync', 'readFileSync'] as const;

/** node:fs that dies at its `at`-th call (counting CALLS once `armed`), and stays dead; `calls` counts them. */
function dying(at: number) {
  const box = { calls: 0, dead: false, armed: true };
  const patched: Record<string, unknown> = { ...fs };
  for (const name of CALLS) {
    const real = fs[name] as (...a: unknown[]) => unknown;
    patched[name] = (...a: unknown[]) => {
      if (box.dead || (box.armed && box.calls++ === at)) {
        box.dead = true;
        throw Object.assign(new Error('killed'), { code: 'EKILLED' });
      }
      return real(...a);
    };
  }
  return { box, fs: { ...patched, default: patched } };
}

/** The state module over a dying node:fs (and the folder sync in file.js over the same). */
async function stateWith(t: Tap.Test, at: number) {
  const d = dying(at);
  const file = await t.mockImport('../../src/audit/file.js', { 'node:fs': d.fs });
  const state = await t.mockImport<StateModule>('../../src/audit/seal-state.js', { 'node:fs': d.fs, '../../src/audit/file.js': file });
  return { ...d, state };
}

t.test('storeState killed at every call: the state is the old one or the new one, whole', async (t) => {
  const dir = tempDir(t);
  const v = { key0: randomBytes(KEY_BYTES), startMs: 0, intervalMs: EPOCH };
  const path = join(dir, 'seal.state');
  const seen = new Set<number>();
  for (let at = 0; ; at++) {
    storeState(path, { ...firstState(v), epoch: 5, key: evolveBy(v.key0, 5) });
    const { box, state } = await stateWith(t, at);
    try {
      state.storeState(path, { ...firstState(v), epoch: 6, key: evolveBy(v.key0, 6) });
    } catch (err) {
      t.equal((err as NodeJS.ErrnoException).code, 'EKILLED');
    }
    const after = loadState(path)!;
    t.ok(after.epoch === 5 || after.epoch === 6, `killed at call ${at}: epoch ${after.epoch}`);
    t.ok(after.key.equals(evolveBy(v.key0, after.epoch)), `killed at call ${at}: the key is its epoch's`);
    t.same(readdirSync(dir), ['seal.state'], 'no temporary file left once the state is read');
    seen.add(after.epoch);
    if (!box.dead) break; // a run that reached its end: every call has been a point of death
  }
  t.same([...seen].sort(), [5, 6], 'deaths before the rename keep the old state, after it the new');
});

t.test('the service killed at every call of an evolution: started again, it seals on and verify passes', async (t) => {
  for (let at = 0; ; at++) {
    const box = new Box(tempDir(t));
    const { box: fsBox, state } = await stateWith(t, at);
    fsBox.armed = false; // reading the state at start is not the evolution
    const sealerModule = await t.mockImport<SealerModule>('../../src/audit/sealer.js', { '../../src/audit/seal-state.js': state });
    const { pino } = await import('pino');
    const { AuditWriter } = await import('../../src/audit/writer.js');
    // The first run: its evolution at the end of epoch 0 dies at call `at`.
    const sealer = sealerModule.Sealer.open({ stateFile: box.stateFile, log: pino({ level: 'silent' }), now: () => box.clock })!;
    fsBox.armed = true;
    const writer = new AuditWriter({ path: box.file, durability: 'fsync', maxQueueBytes: 1 << 20, deadlineMs: 60000, rotateCheckMs: 60000, chain: true, sealer, log: pino({ level: 'silent' }) });
    await writer.start();
    await writer.append(`{"time":"x","receivedAt":"${new Date(box.clock).toISOString()}","member":"a"}\n`);
    box.tick(EPOCH);
    // Taken in after the epoch's end: written after seal 0, once the key evolved (or never, if it died).
    // Written once the key evolved; held for good if the evolution died.
    let written = false;
    void writer.append(`{"time":"x","receivedAt":"${new Date(box.clock).toISOString()}","member":"b"}\n`).then(() => (written = true));
    while (!written && !fsBox.dead) await new Promise((r) => setTimeout(r, 10));
    const died = fsBox.dead;
    await writer.close(0);
    t.equal(written, !died, 'nothing after the seal is written while the key is not evolved');
    const st = loadState(box.stateFile)!;
    t.ok(st.epoch === 0 || st.epoch === 1, `killed at call ${at}: the state holds epoch ${st.epoch}`);
    // Started again on what the kill left: it seals what is owed, once, and goes on.
    await box.start();
    await box.exits(2);
    box.tick(EPOCH);
    await box.exits(1);
    await box.stop();
    const res = await cli(['verify', '--genesis', '--verify-key', box.key], { env: { AUDIT_FILE: box.file } });
    t.equal(res.code, 0, `killed at call ${at}: ${res.stdout}`);
    if (!died) break;
  }
});

t.test('a real process killed with SIGKILL while it evolves: the state is the last one it finished, or the next', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'seal.state');
  const v = { key0: randomBytes(KEY_BYTES), startMs: 0, intervalMs: EPOCH };
  storeState(path, firstState(v));
  const dist = (f: string) => JSON.stringify(new URL(`../../dist/audit/${f}`, import.meta.url).href);
  // Evolves as fast as it can, printing each epoch once its state file is in place.
  const script = `import { loadState, storeState } from ${dist('seal-state.js')};
import { evolve } from ${dist('seal-key.js')};
const path = ${JSON.stringify(path)};
for (let s = loadState(path); ; ) { s = { ...s, epoch: s.epoch + 1, key: evolve(s.key) }; storeState(path, s); process.stdout.write(s.epoch + '\\n'); }`;
  const kinds = new Set<string>();
  for (let run = 0; run < 20; run++) {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d;
      // Somewhere in its run of evolutions, wherever a write or rename happens to be.
      if (out.split('\n').length > 3 + Math.floor(Math.random() * 40)) child.kill('SIGKILL');
    });
    await new Promise((r) => child.on('exit', r));
    const done = Math.max(...out.trim().split('\n').map(Number));
    const st = loadState(path)!;
    t.ok(st.epoch === done || st.epoch === done + 1, `run ${run}: finished ${done}, the state holds ${st.epoch}`);
    t.ok(st.key.equals(evolveBy(v.key0, st.epoch)), `run ${run}: the key is epoch ${st.epoch}'s`);
    kinds.add(st.epoch === done ? 'finished' : 'next');
    t.notOk(existsSync(`${path}.new`), 'the temporary file is gone once the state is read');
  }
  t.comment(`states after the kills: ${[...kinds].join(', ')}`);
});
