/**
 * A seal follows every line taken in before its epoch's end and precedes every line taken in
 * after it, whatever the disk does: lines held through a failing disk and written late, and a
 * large callback written in slices, all land before the seal (issue #21 on the writer of #19).
 */
import t from 'tap';
import { cli } from '../helpers/cli.js';
import { eioWhile, writerWithFs } from '../helpers/mock-fs.js';
import { Box, EPOCH, isSeal, readTrail, sealOf, tempDir } from '../helpers/sealed-trail.js';

const verify = (box: Box) => cli(['verify', '--genesis', '--verify-key', box.key], { env: { AUDIT_FILE: box.file } });
const members = (box: Box) => readTrail(box.file).map((l) => (isSeal(l) ? `seal ${sealOf(l).epoch}` : (JSON.parse(l.text) as { member: string }).member));

t.test('lines held through a failing disk across the epoch\'s end are written before its seal', async (t) => {
  let failing = true;
  const W = await writerWithFs(t, { write: eioWhile(() => failing) });
  const box = new Box(tempDir(t));
  await box.start({}, W.AuditWriter);
  const before = [box.callback(['a1']), box.callback(['a2'])];
  await new Promise((r) => setTimeout(r, 100)); // a few failed attempts
  box.tick(EPOCH);
  const after = box.callback(['b']);
  failing = false;
  await Promise.all([...before, after]);
  await box.stop();
  t.same(members(box), ['a1', 'a2', 'seal 0', 'b']);
  t.equal((await verify(box)).code, 0);
});

t.test('a large callback taken in before the epoch\'s end is written whole before its seal; what came after waits', async (t) => {
  const box = new Box(tempDir(t));
  await box.start({ sliceBytes: 2000 });
  const big = Array.from({ length: 60 }, (_, i) => `L${i}`); // about 20 slices
  const writes = [box.callback(big), box.callback(['s1'])];
  box.tick(EPOCH);
  writes.push(box.callback(['s2']));
  await Promise.all(writes);
  await box.stop();
  const order = members(box);
  const seal = order.indexOf('seal 0');
  t.same(order.slice(seal), ['seal 0', 's2'], 'the seal after all of it, the later callback after the seal');
  t.same(order.slice(0, seal).sort(), [...big, 's1'].sort(), 'the large callback and the small one taken in with it, before the seal');
  t.not(order.indexOf('s1'), seal - 1, 'the small one passed between the slices, as ever');
  t.equal((await verify(box)).code, 0);
});
