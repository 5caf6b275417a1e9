/**
 * Issue #21: an attacker who copied the box at time T (the trail and the sealing state, so the key
 * of T's epoch) rewrites the trail; `verify --verify-key` (the built CLI) catches each attack on
 * lines sealed before T and names the place, and says plainly what it cannot prove. The trail is
 * made by the real writer and sealer on a clock the test moves: 15-minute epochs, four files
 * (.3.gz, .2.gz, .1, current), a restart across two missed epochs, T in epoch 11.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import t from 'tap';
import { cli } from '../helpers/cli.js';
import { attackerSealer, Box, compressOld, EPOCH, isSeal, lineNo, readTrail, rebuild, sealOf, tempDir, trailFiles, writeTrail, type TrailLine } from '../helpers/sealed-trail.js';

const root = tempDir(t);
const box = new Box(join(root, 'box'));
await box.start();
await box.exits(3); // epoch 0
box.tick(EPOCH);
await box.exits(3); // 1
box.tick(EPOCH);
await box.rotate(); // 2
await box.exits(2);
box.tick(EPOCH);
await box.exits(3); // 3
box.tick(EPOCH);
await box.rotate(); // 4
await box.exits(3);
await box.stop();
box.tick(3 * EPOCH); // down through epochs 5 and 6: sealed at the next start
await box.start();
await box.exits(2); // 7
box.tick(EPOCH);
await box.rotate(); // 8
await box.exits(3);
box.tick(EPOCH);
await box.exits(3); // 9
box.tick(EPOCH);
await box.exits(3); // 10
box.tick(EPOCH);
await box.exits(1); // 11
const stolen = join(root, 'stolen');
const atT = box.copy(stolen); // T: the state holds epoch 11's key
await box.exits(2);
box.tick(EPOCH);
await box.exits(3); // 12
box.tick(EPOCH);
await box.exits(2); // 13: after the last seal
await box.stop();
compressOld(box.file);

/** A fresh copy of the final trail to attack. */
function victim(t: Tap.Test): { file: string; lines: TrailLine[] } {
  const dir = tempDir(t);
  cpSync(join(root, 'box'), dir, { recursive: true });
  const file = join(dir, 'trail', 'member-exit.ndjson');
  return { file, lines: readTrail(file) };
}

const verify = (file: string, ...args: string[]) => cli(['verify', '--verify-key', box.key, ...args], { env: { AUDIT_FILE: file } });
const at = (lines: TrailLine[], i: number) => `${lines[i]!.file}:${lineNo(lines, i)}`;
/** The index of the first line of epoch-2 traffic (in .2.gz): sealed long before T. */
const firstIndex = (lines: TrailLine[], pred: (l: TrailLine, i: number) => boolean) => lines.findIndex(pred);
const edited = (lines: TrailLine[]) => firstIndex(lines, (l) => l.file.endsWith('.2.gz') && !isSeal(l));
const nextSeal = (lines: TrailLine[], i: number) => firstIndex(lines, (l, k) => k > i && isSeal(l));

t.test('the honest trail: every epoch sealed, from the first line ever', async (t) => {
  const files = trailFiles(box.file).map((f) => f.slice(box.file.length));
  t.same(files, ['.3.gz', '.2.gz', '.1', ''], 'four files, two of them gzip');
  const seals = readTrail(box.file).filter(isSeal).map(sealOf);
  t.same(seals.filter((s) => s.final).map((s) => s.epoch), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], 'one closing seal per epoch, the missed ones included');
  t.equal(seals.filter((s) => !s.final).length, 3, 'and one mid-epoch seal at each reopen');
  const res = await verify(box.file, '--genesis');
  t.equal(res.code, 0, res.stdout);
  t.match(res.stdout, /^OK: \d+ lines sealed in 16 seals, epochs 0 to 12, from the first line ever/);
  t.match(res.stdout, `NOT PROVEN: the 2 lines after the last seal`);
});

t.test('a line sealed before T altered, inserted, removed or swapped, every prev after it recomputed: the next seal no longer matches', async (t) => {
  const edits: [string, (l: TrailLine[], i: number) => void][] = [
    ['altered', (l, i) => (l[i] = { ...l[i]!, text: l[i]!.text.replace('"exitType":"Quit"', '"exitType":"Kicked"') })],
    ['inserted', (l, i) => l.splice(i + 1, 0, { ...l[i]!, text: l[i]!.text.replace('"member":"m', '"member":"forged-m') })],
    ['removed', (l, i) => l.splice(i + 1, 1)],
    ['swapped', (l, i) => l.splice(i + 1, 2, l[i + 2]!, l[i + 1]!)],
  ];
  for (const [what, edit] of edits) {
    const { file, lines } = victim(t);
    // The two exits of epoch 2 after its mid-epoch seal (the reopen), before the seal closing it.
    const i = lines.findIndex((l, k) => !isSeal(l) && k > 0 && isSeal(lines[k - 1]!) && !sealOf(lines[k - 1]!).final && sealOf(lines[k - 1]!).epoch === 2);
    t.notOk(isSeal(lines[i]!) || isSeal(lines[i + 1]!), 'two exit lines to work on');
    const s = nextSeal(lines, i);
    edit(lines, i);
    const after = rebuild(lines, i);
    writeTrail(file, after);
    t.equal((await cli(['verify'], { env: { AUDIT_FILE: file } })).code, 0, `${what}: the chain alone is fooled`);
    const res = await verify(file);
    t.equal(res.code, 1, what);
    const sealAt = after.findIndex((l, k) => k >= i && isSeal(l));
    t.equal(sealOf(after[sealAt]!).epoch, 2);
    t.match(res.stdout, `BROKEN at ${at(after, sealAt)}: the seal of epoch 2 does not match`, `${what}: named at the seal after it`);
    t.ok(s > 0);
  }
});

t.test('... and re-sealed from there with the key held at T: the epochs in between are missing', async (t) => {
  const { file, lines } = victim(t);
  const i = edited(lines);
  lines[i] = { ...lines[i]!, text: lines[i]!.text.replace('"member":"m', '"member":"forged-m') };
  const rebuilt = rebuild(lines, i, attackerSealer(atT.stateFile));
  writeTrail(file, rebuilt);
  const res = await verify(file);
  t.equal(res.code, 1);
  const prior = lines.slice(0, i).map(isSeal).lastIndexOf(true);
  const resealed = rebuilt.findIndex((l, k) => k > i && isSeal(l));
  t.equal(sealOf(rebuilt[resealed]!).epoch, 11, 'the first seal left after the edit is the attacker\'s');
  t.match(res.stdout, `BROKEN at ${at(rebuilt, resealed)}: no seal for epochs 2 to 10 between ${at(lines, prior)} and here`);
});

t.test('... or the old seals re-made with the key of T under their own epochs: they do not match', async (t) => {
  const { file, lines } = victim(t);
  const i = edited(lines);
  lines[i] = { ...lines[i]!, text: lines[i]!.text.replace('"member":"m', '"member":"forged-m') };
  const rebuilt = rebuild(lines, i, attackerSealer(atT.stateFile, true));
  writeTrail(file, rebuilt);
  const res = await verify(file);
  t.equal(res.code, 1);
  const s = nextSeal(rebuilt, i);
  t.match(res.stdout, `BROKEN at ${at(rebuilt, s)}: the seal of epoch 2 does not match`);
});

t.test('... or everything before the edit removed, so the attacker\'s seal comes first: sealed with a key newer than its lines', async (t) => {
  const { file, lines } = victim(t);
  const i = edited(lines);
  const kept = lines.slice(i);
  kept[0] = { ...kept[0]!, text: kept[0]!.text.replace('"member":"m', '"member":"forged-m') };
  const rebuilt = rebuild(kept, 0, attackerSealer(atT.stateFile));
  writeTrail(file, rebuilt);
  const res = await verify(file);
  t.equal(res.code, 1);
  t.match(res.stdout, `BROKEN at ${at(rebuilt, 0)}: received `);
  t.match(res.stdout, 'yet covered by the seal of epoch 11');
  t.match(res.stdout, 'sealed with a key newer than the line');
  const strict = await verify(file, '--genesis');
  t.match(strict.stdout, `the first seal is of epoch 11, not 0 (--genesis)`);
});

t.test('a rotated file deleted, with or without the chain rebuilt and re-sealed after it', async (t) => {
  const a = victim(t);
  const gone = a.lines.filter((l) => l.file.endsWith('.2.gz'));
  writeTrail(a.file, a.lines.filter((l) => !l.file.endsWith('.2.gz')));
  const res = await verify(a.file);
  t.equal(res.code, 1);
  t.match(res.stdout, `BROKEN at ${a.file}.1:1: "prev" is not the hash of the line before`);
  t.ok(gone.length > 0);

  const b = victim(t);
  const rest = b.lines.filter((l) => !l.file.endsWith('.2.gz'));
  const from = rest.findIndex((l) => l.file.endsWith('.1'));
  const rebuilt = rebuild(rest, from, attackerSealer(atT.stateFile));
  writeTrail(b.file, rebuilt);
  const res2 = await verify(b.file);
  t.equal(res2.code, 1);
  t.match(res2.stdout, /BROKEN at .*: no seal for epochs 1 to 10 between .*member-exit\.ndjson\.3\.gz:\d+ and here/);
});

t.test('the current file truncated and continued by the service on the stolen state (CVE-2023-31438\'s shape)', async (t) => {
  const { file, lines } = victim(t);
  const dir = join(file, '..', '..');
  // Cut the current file right after the seal that closed epoch 8, then let the service go on.
  const cut = lines.findIndex((l) => l.file === file && isSeal(l) && sealOf(l).epoch === 8 && sealOf(l).final);
  writeTrail(file, lines.slice(0, cut + 1));
  writeFileSync(join(dir, 'state', 'seal.state'), readFileSync(atT.stateFile));
  const attacker = new Box(dir, { at: box.clock });
  await attacker.start();
  await attacker.exits(3);
  attacker.tick(EPOCH);
  await attacker.exits(1);
  await attacker.stop();
  const after = readTrail(file);
  const res = await verify(file);
  t.equal(res.code, 1);
  const first = after.findIndex((l, k) => k > cut && isSeal(l));
  t.match(res.stdout, `BROKEN at ${at(after, first)}: no seal for epochs 9 to 10 between ${at(lines, cut)} and here`);
});

t.test('the current file truncated and left so: verify says what it cannot see', async (t) => {
  const { file, lines } = victim(t);
  const cut = lines.findIndex((l) => l.file === file && isSeal(l) && sealOf(l).epoch === 8 && sealOf(l).final);
  writeTrail(file, lines.slice(0, cut + 1));
  const res = await verify(file);
  t.equal(res.code, 0, 'a cut at a seal leaves a trail that proves itself up to there');
  t.match(res.stdout, 'epochs 0 to 8');
  t.match(res.stdout, /NOT PROVEN: what came after the last seal .*: \d+ epochs have ended since without a seal here/);
  t.match(res.stdout, 'only a copy of the seals kept off the box');
});

t.test('lines moved between files', async (t) => {
  const { file, lines } = victim(t);
  // The last three lines of .1 moved to the end of the current file: reordered.
  const one = lines.map((l, i) => [l, i] as const).filter(([l]) => l.file.endsWith('.1')).map(([, i]) => i);
  const moved = one.slice(-3);
  const reordered = [...lines.filter((_, i) => !moved.includes(i)), ...moved.map((i) => ({ ...lines[i]!, file }))];
  writeTrail(file, reordered);
  const res = await verify(file);
  t.equal(res.code, 1);
  t.match(res.stdout, `BROKEN at ${file}:1: "prev" is not the hash of the line before`);

  // The same lines moved to the top of the current file: the order is unchanged, and so is what
  // the trail says; verify (rightly) finds nothing to report.
  const b = victim(t);
  writeTrail(b.file, b.lines.map((l, i) => (moved.includes(i) ? { ...l, file: b.file } : l)));
  t.equal((await verify(b.file)).code, 0);
});

t.test('unchained lines prepended, in an older-looking file or at the top of the oldest', async (t) => {
  const { file, lines } = victim(t);
  const foreign = lines.find((l) => !isSeal(l))!.text.replace(/,"prev":"[0-9a-f]{64}"\}$/, '}').replace('"member":"m1"', '"member":"planted"');
  writeFileSync(`${file}.4.gz`, gzipSync(foreign + '\n'));
  const res = await verify(file);
  t.equal(res.code, 1);
  t.match(res.stdout, `BROKEN at ${file}.4.gz:1: a line without "prev"`);
  const chainOnly = await cli(['verify', '--genesis'], { env: { AUDIT_FILE: file } });
  t.equal(chainOnly.code, 1, '--genesis no longer passes over them either');
  t.match(chainOnly.stdout, `BROKEN at ${file}.4.gz:1: a line without "prev" before the first chained line`);

  const b = victim(t);
  writeTrail(b.file, [{ file: `${b.file}.3.gz`, text: foreign }, ...b.lines]);
  t.match((await verify(b.file)).stdout, `BROKEN at ${b.file}.3.gz:1: a line without "prev"`);
});

t.test('a line after the last seal edited: not caught, and verify says so', async (t) => {
  const { file, lines } = victim(t);
  const last = lines.map(isSeal).lastIndexOf(true);
  lines[last + 1] = { ...lines[last + 1]!, text: lines[last + 1]!.text.replace('"exitType":"Quit"', '"exitType":"Kicked"') };
  writeTrail(file, rebuild(lines, last + 1));
  const res = await verify(file);
  t.equal(res.code, 0);
  t.match(res.stdout, `NOT PROVEN: the 2 lines after the last seal (from ${at(lines, last + 1)}): whoever is root on the box can still change or remove them`);
});

t.test('another key, or none that parses', async (t) => {
  const other = new Box(tempDir(t));
  const res = await cli(['verify', '--verify-key', other.key], { env: { AUDIT_FILE: box.file } });
  t.equal(res.code, 1);
  t.match(res.stdout, /BROKEN at .*\.3\.gz:\d+: sealed with another key/);
  const bad = await cli(['verify', '--verify-key', 'abc'], { env: { AUDIT_FILE: box.file } });
  t.equal(bad.code, 2);
  t.match(bad.stderr, '--verify-key: a verification key is 64 hex digits');
});
