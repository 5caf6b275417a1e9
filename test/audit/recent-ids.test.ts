// The recent-ids set holds up to 100,000 ids for minutes (dedup, issue #19): what it keeps alive
// is the service's largest heap item under load (issue #24). These tests measure it with the real
// garbage collector.
import { createHash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import t from 'tap';
import { type Entry, WriteQueue } from '../../src/audit/queue.js';
import { RecentIds } from '../../src/audit/recent-ids.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Ids as line.ts makes them: 32-character slices of a 64-character hex digest. */
const idsLikeLines = (n: number, salt: string) => Array.from({ length: n }, (_, i) => createHash('sha256').update(`${salt}${i}`).digest('hex').slice(0, 32));

/** Heap bytes still used after a full collection, per item, by what `keep` makes and returns. */
function retainedPerItem(n: number, keep: () => object): { bytes: number; kept: object } {
  gc();
  const before = process.memoryUsage().heapUsed;
  const kept = keep();
  gc();
  return { bytes: (process.memoryUsage().heapUsed - before) / n, kept };
}

t.test('settle: an id is pointed elsewhere only where it stood for the given value, in either generation', async (t) => {
  let now = 0;
  const r = new RecentIds<string>(1000, 100, () => now);
  r.add('a', 'first');
  r.add('b', 'first');
  now = 600; // past half the window: the next add starts a new generation
  r.add('c', 'second');
  r.settle('a', 'first', 'disk');
  r.settle('b', 'other', 'disk');
  r.settle('c', 'second', 'disk');
  r.settle('missing', 'first', 'disk');
  t.equal(r.get('a'), 'disk', 'in the older generation');
  t.equal(r.get('b'), 'first', 'not where it stood for something else');
  t.equal(r.get('c'), 'disk', 'in the current generation');
  t.equal(r.get('missing'), undefined, 'an id it never had is not added');
  t.equal(r.size, 3);
});

t.test('ids are kept as flat copies, not as slices that keep their 64-character digests alive', async (t) => {
  const n = 20000;
  const asSlices = retainedPerItem(n, () => {
    const m = new Map<string, number>();
    for (const id of idsLikeLines(n, 'slice')) m.set(id, 1);
    return m;
  });
  const asKept = retainedPerItem(n, () => {
    const r = new RecentIds<number>(60000, 2 * n);
    for (const id of idsLikeLines(n, 'recent')) r.add(id, 1);
    return r;
  });
  t.equal((asSlices.kept as Map<string, number>).size + (asKept.kept as RecentIds<number>).size, 2 * n, 'both hold every id while measured');
  t.ok(asKept.bytes <= asSlices.bytes - 40, `RecentIds keeps ${asKept.bytes.toFixed(0)} bytes an id, a Map of the slices ${asSlices.bytes.toFixed(0)}`);
  const r = new RecentIds<number>(60000, 10);
  const [id] = idsLikeLines(1, 'same');
  r.add(id!, 7);
  t.equal(r.get(id!), 7, 'a copy finds what the original was added under');
  r.add('ABC-not-hex', 8);
  t.equal(r.get('ABC-not-hex'), 8, 'an id that is not lowercase is kept as it is');
  t.equal(r.get('abc-not-hex'), undefined, 'and not as its lowercase');
});

t.test('a written entry is not kept alive by the ids that point at it', async (t) => {
  const q = new WriteQueue({ maxBytes: 1 << 20, deadlineMs: 60000, dedupWindowMs: 60000, dedupMaxIds: 1000 });
  const ids = idsLikeLines(3, 'written');
  let ref: WeakRef<Entry> | undefined;
  let done: Promise<void> | undefined;
  (() => {
    const added = q.add('{"id":1}\n{"id":2}\n{"id":3}\n', Date.now(), ids);
    ref = new WeakRef(added.entry!);
    done = added.done;
    q.entries.splice(0);
    q.written(added.entry!);
  })();
  await done;
  await new Promise((r) => setImmediate(r));
  gc();
  t.equal(ref!.deref(), undefined, 'collected once written');
  const resend = q.add('{"id":1}\n{"id":2}\n{"id":3}\n', Date.now(), ids);
  t.equal(resend.entry, null, 'a resend of its ids is still known as on disk: nothing queued');
  await resend.done;
  t.equal(q.entries.length, 0);
});

t.test('an entry not yet written still holds its resends', async (t) => {
  const q = new WriteQueue({ maxBytes: 1 << 20, deadlineMs: 60000, dedupWindowMs: 60000, dedupMaxIds: 1000 });
  const ids = idsLikeLines(1, 'queued');
  const first = q.add('{"id":1}\n', Date.now(), ids);
  let resendDone = false;
  const resend = q.add('{"id":1}\n', Date.now(), ids);
  void resend.done.then(() => (resendDone = true));
  await new Promise((r) => setImmediate(r));
  t.equal(resend.entry, null, 'not queued twice');
  t.notOk(resendDone, 'the resend waits for the first copy');
  q.written(first.entry!);
  await resend.done;
  t.ok(resendDone, 'answered when the first copy is on disk');
});

t.test('addAll: a callback with more ids than half the bound turns the generations inside it', async (t) => {
  const r = new RecentIds<number>(60000, 4);
  r.addAll(['a', 'b', 'c'], 1);
  t.same(['a', 'b', 'c'].map((id) => r.get(id)), [1, 1, 1], 'all three kept: two in the older generation, one in the current');
  r.addAll(['d', 'e'], 2);
  t.equal(r.get('a'), undefined, 'the oldest generation was dropped whole');
  t.same(['c', 'd', 'e'].map((id) => r.get(id)), [1, 2, 2]);
  t.ok(r.size <= 4, `never more than the bound (${r.size})`);
});
