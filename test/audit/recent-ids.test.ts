// The recent-ids set holds up to 100,000 ids for minutes (dedup, issue #19): it was the service's
// largest heap item under load (issue #24). These tests measure it with the real garbage collector.
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

t.test('generations: an id is known until the older generation it is in is dropped whole', async (t) => {
  let now = 0;
  const r = new RecentIds(1000, 100, () => now);
  const [a, b, c, d, missing] = idsLikeLines(5, 'gen');
  r.addAll([a!, b!]);
  now = 600; // past half the window: the next add starts a new generation
  r.addAll([c!]);
  t.ok(r.has(a!) && r.has(b!), 'in the older generation');
  t.ok(r.has(c!), 'in the current generation');
  t.notOk(r.has(missing!), 'an id it never had');
  t.equal(r.size, 3);
  now = 1200;
  r.addAll([d!]);
  t.notOk(r.has(a!), 'a whole window later, the oldest generation is gone');
  t.ok(r.has(c!) && r.has(d!));
});

t.test('ids are kept as 128-bit keys outside the heap, not as strings', async (t) => {
  const n = 50000; // half the default dedupMaxIds: one full generation
  const measure = (keep: () => object) => {
    gc();
    const before = process.memoryUsage();
    const kept = keep();
    gc();
    const after = process.memoryUsage();
    return { heap: (after.heapUsed - before.heapUsed) / n, all: (after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers) / n, kept };
  };
  const asStrings = measure(() => new Set(idsLikeLines(n, 'set').map((id) => id.toLowerCase())));
  const asKept = measure(() => {
    const r = new RecentIds(60000, 2 * n);
    r.addAll(idsLikeLines(n, 'recent'));
    return r;
  });
  t.equal((asStrings.kept as Set<string>).size + (asKept.kept as RecentIds).size, 2 * n, 'both hold every id while measured');
  t.ok(asKept.all <= 60, `RecentIds keeps ${asKept.all.toFixed(0)} bytes an id, a Set of the ids as strings ${asStrings.all.toFixed(0)}`);
  t.ok(asKept.heap <= 4, `of which ${asKept.heap.toFixed(1)} on the JavaScript heap`);
  t.ok(asKept.all < asStrings.all, 'less than the strings');
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
  const r = new RecentIds(60000, 4);
  const [a, b, c, d, e] = idsLikeLines(5, 'turn');
  r.addAll([a!, b!, c!]);
  t.same([a, b, c].map((id) => r.has(id!)), [true, true, true], 'all three kept: two in the older generation, one in the current');
  r.addAll([d!, e!]);
  t.notOk(r.has(a!), 'the oldest generation was dropped whole');
  t.same([c, d, e].map((id) => r.has(id!)), [true, true, true]);
  t.ok(r.size <= 4, `never more than the bound (${r.size})`);
});
