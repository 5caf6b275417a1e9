/**
 * Tamper evidence: with audit.chain every line carries `prev`, chained across rotation and
 * restarts; `verify` finds each kind of tampering, a whole rotated file deleted included.
 */
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { pino } from 'pino';
import t from 'tap';
import { GENESIS } from '../../src/audit/chain.js';
import { startService } from '../../src/service.js';
import { cli } from '../helpers/cli.js';
import { exitBody, post, testConfig } from '../helpers/service.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** A chained trail: .3.gz, .2.gz, .1, current, written across a restart and three rotations. */
async function chainedTrail(t: Tap.Test) {
  const config = testConfig(t, { audit: { chain: true } });
  const file = config.audit.file;
  let n = 0;
  const send = async (port: number, k: number) => {
    for (let i = 0; i < k; i++) await post(port, exitBody({ ExitMemberList: [{ Member_Account: `m${++n}` }, { Member_Account: `m${++n}` }], EventTime: 1700000000000 + n }));
  };
  let svc = await startService(config, pino({ level: 'silent' }));
  await send(svc.port, 3);
  for (const rotated of ['.3', '.2']) {
    renameSync(file, file + rotated);
    svc.reload();
    await send(svc.port, 2);
  }
  await svc.stop();
  // Restart: the chain goes on from the last line on disk.
  svc = await startService(config, pino({ level: 'silent' }));
  await send(svc.port, 2);
  renameSync(file, file + '.1');
  await svc.stop();
  // Restart with the current file missing: the chain goes on from the newest rotated file.
  svc = await startService(config, pino({ level: 'silent' }));
  await send(svc.port, 2);
  await svc.stop();
  for (const r of ['.3', '.2']) {
    writeFileSync(`${file}${r}.gz`, gzipSync(readFileSync(file + r)));
    unlinkSync(file + r);
  }
  return { file, files: [`${file}.3.gz`, `${file}.2.gz`, `${file}.1`, file], lines: n };
}

const verify = (file: string, ...args: string[]) => cli(['verify', ...args], { env: { AUDIT_FILE: file } });

t.test('every line chains to the one before, across rotation and restarts', async (t) => {
  const { file, lines } = await chainedTrail(t);
  const { gunzipSync } = await import('node:zlib');
  const text = [`${file}.3.gz`, `${file}.2.gz`, `${file}.1`, file]
    .map((f) => (f.endsWith('.gz') ? gunzipSync(readFileSync(f)) : readFileSync(f)).toString())
    .join('');
  const all = text.trimEnd().split('\n');
  t.equal(all.length, lines);
  let prev = GENESIS;
  for (const l of all) {
    const v = JSON.parse(l);
    t.equal(v.prev, prev);
    t.equal(Object.keys(v).at(-1), 'prev', 'prev comes last, after id');
    prev = sha(l);
  }
  const ok = await verify(file);
  t.equal(ok.code, 0);
  t.match(ok.stdout, new RegExp(`^OK: ${lines} chained lines in 4 files, from the first line ever; last line hash ${prev}\\n$`));
  t.equal((await verify(file, '--genesis')).code, 0);
});

/** Apply `edit` to the plain current file's lines, then verify. */
async function tampered(t: Tap.Test, edit: (lines: string[]) => string[], target: 'current' | '.1' = 'current') {
  const { file } = await chainedTrail(t);
  const path = target === 'current' ? file : file + target;
  const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
  writeFileSync(path, edit(lines).join('\n') + '\n');
  return { res: await verify(file), file, path };
}

t.test('a removed line', async (t) => {
  const { res, path } = await tampered(t, (l) => [l[0]!, ...l.slice(2)], '.1');
  t.equal(res.code, 1);
  t.match(res.stdout, `BROKEN at ${path}:2: "prev" is not the hash of the line before`);
});

t.test('an inserted line (even one with a correct prev)', async (t) => {
  const { res, path } = await tampered(t, (l) => {
    const forged = JSON.stringify({ ...JSON.parse(l[0]!), member: 'forged', prev: sha(l[0]!) });
    return [l[0]!, forged, ...l.slice(1)];
  });
  t.equal(res.code, 1);
  t.match(res.stdout, `BROKEN at ${path}:3:`, 'the line after the forgery no longer chains');
});

t.test('reordered lines', async (t) => {
  const { res, path } = await tampered(t, (l) => [l[1]!, l[0]!, ...l.slice(2)], '.1');
  t.equal(res.code, 1);
  t.match(res.stdout, `BROKEN at ${path}:1:`);
});

t.test('an altered line', async (t) => {
  const { res, path } = await tampered(t, (l) => [l[0]!.replace('"exitType":"Kicked"', '"exitType":"Quit"'), ...l.slice(1)]);
  t.equal(res.code, 1);
  t.match(res.stdout, `BROKEN at ${path}:2:`);
});

t.test('a line made unparsable, or stripped of prev', async (t) => {
  const a = await tampered(t, (l) => [l[0]!, l[1]!.slice(0, 20), ...l.slice(2)]);
  t.match(a.res.stdout, `BROKEN at ${a.path}:2: not a JSON line`);
  const b = await tampered(t, (l) => [l[0]!, l[1]!.replace(/,"prev":"[0-9a-f]+"/, ''), ...l.slice(2)]);
  t.match(b.res.stdout, `BROKEN at ${b.path}:2: no valid "prev" field`);
});

t.test('a whole rotated file deleted', async (t) => {
  const { file } = await chainedTrail(t);
  unlinkSync(`${file}.2.gz`);
  const res = await verify(file);
  t.equal(res.code, 1);
  t.match(res.stdout, `BROKEN at ${file}.1:1:`);
  t.match(res.stdout, `(the first line of ${file}.1; the chain ended at ${file}.3.gz:`);
});

t.test('the oldest file gone (retention): OK but anchored; --genesis refuses', async (t) => {
  const { file } = await chainedTrail(t);
  unlinkSync(`${file}.3.gz`);
  const res = await verify(file);
  t.equal(res.code, 0);
  t.match(res.stdout, /anchored at prev [0-9a-f]{64} \(older lines are not in these files\)/);
  const strict = await verify(file, '--genesis');
  t.equal(strict.code, 1);
  t.match(strict.stdout, 'the first line is not the first line ever');
});

t.test('verify on files without a chain, and usage errors', async (t) => {
  const config = testConfig(t, { audit: { chain: false } });
  const svc = await startService(config, pino({ level: 'silent' }));
  await post(svc.port, exitBody());
  await svc.stop();
  const res = await verify(config.audit.file);
  t.equal(res.code, 3, 'its own exit status: not "broken", nothing to check');
  t.equal(res.stdout, 'no chained lines: audit.chain is off (no line in 1 file carries "prev"); nothing to verify\n');
  t.notMatch(res.stdout, /BROKEN/);
  t.equal((await cli(['verify', '--bogus'])).code, 2);
  t.equal((await cli(['verify', '/nonexistent/x'])).code, 2);
});
