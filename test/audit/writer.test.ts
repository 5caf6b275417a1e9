import fs from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import { GENESIS, lineHash } from '../../src/audit/chain.js';
import { AuditWriter, type WriterOptions } from '../../src/audit/writer.js';
import { memoryLog } from '../helpers/log.js';

type WriterModule = typeof import('../../src/audit/writer.js');

function options(t: Tap.Test, over: Partial<WriterOptions> = {}): WriterOptions & { records: Record<string, unknown>[] } {
  const { log, records } = memoryLog();
  return { path: join(t.testdir(), 'sub', 'audit.ndjson'), durability: 'fsync', maxQueueBytes: 1 << 20, deadlineMs: 1500, rotateCheckMs: 50, log, records, ...over };
}

function started(t: Tap.Test, Writer: WriterModule['AuditWriter'], opts: WriterOptions): AuditWriter {
  const w = new Writer(opts);
  // Without a chain, start() opens the file and arms its timers before it first yields.
  void w.start();
  t.teardown(() => w.close());
  return w;
}

const read = (p: string) => fs.readFileSync(p, 'utf8');
const codeOf = (p: Promise<unknown>) => p.then(() => 'ok', (e: { code: string }) => e.code);

/** node:fs with some functions replaced, as the writer sees it. */
function mockFs(t: Tap.Test, patch: Partial<typeof fs>): Promise<WriterModule> {
  const patched = { ...fs, ...patch };
  return t.mockImport<WriterModule>('../../src/audit/writer.js', { 'node:fs': { ...patched, default: patched } });
}

t.test('creates the directory and the file 0640, appends, answers after the write', async (t) => {
  const opts = options(t);
  const w = started(t, AuditWriter, opts);
  await w.append('{"a":1}\n');
  t.equal(read(opts.path), '{"a":1}\n');
  t.equal(fs.statSync(opts.path).mode & 0o777, 0o640 & ~process.umask());
  t.ok(w.ready);
});

t.test('group commit: callbacks that arrive together share one write', async (t) => {
  const batches: number[] = [];
  const opts = options(t, { onBatch: (b) => batches.push(b.callbacks) });
  const w = started(t, AuditWriter, opts);
  await Promise.all(Array.from({ length: 20 }, (_, i) => w.append(`{"n":${i}}\n`)));
  t.same(batches, [20]);
  t.equal(read(opts.path).split('\n').length, 21);
  await Promise.all([w.append('x\n'), w.append('y\n')]);
  t.same(batches, [20, 2]);
});

t.test('a torn tail is cut at start, with a warning giving the byte count', async (t) => {
  const opts = options(t);
  fs.mkdirSync(join(opts.path, '..'), { recursive: true });
  fs.writeFileSync(opts.path, '{"a":1}\n{"b":2}\n{"c":');
  const w = started(t, AuditWriter, opts);
  t.equal(read(opts.path), '{"a":1}\n{"b":2}\n');
  t.equal(opts.records.find((r) => r.msg === 'cut torn tail of audit file')?.bytes, 5);
  await w.append('{"d":4}\n');
  t.equal(read(opts.path), '{"a":1}\n{"b":2}\n{"d":4}\n');
});

t.test('a torn file with no newline at all, longer than one read chunk, is emptied', async (t) => {
  const opts = options(t);
  fs.mkdirSync(join(opts.path, '..'), { recursive: true });
  fs.writeFileSync(opts.path, 'x'.repeat(200_000));
  started(t, AuditWriter, opts);
  t.equal(fs.statSync(opts.path).size, 0);
});

t.test('a long torn line spanning read chunks is cut at the last newline', async (t) => {
  const opts = options(t);
  fs.mkdirSync(join(opts.path, '..'), { recursive: true });
  fs.writeFileSync(opts.path, 'ok\n' + 'y'.repeat(150_000));
  started(t, AuditWriter, opts);
  t.equal(read(opts.path), 'ok\n');
});

t.test('a file that ends in a newline is left alone', async (t) => {
  const opts = options(t);
  fs.mkdirSync(join(opts.path, '..'), { recursive: true });
  fs.writeFileSync(opts.path, 'a\nb\n');
  started(t, AuditWriter, opts);
  t.equal(read(opts.path), 'a\nb\n');
  t.notOk(opts.records.some((r) => r.msg === 'cut torn tail of audit file'));
});

t.test('reopen() and rename detection by the timer move to a new file between batches', async (t) => {
  // The per-batch check off: this pins the timer (it still serves an idle writer).
  const opts = options(t, { checkEachBatch: false });
  const w = started(t, AuditWriter, opts);
  await w.append('1\n');
  fs.renameSync(opts.path, opts.path + '.1');
  await w.append('2\n'); // before the check notices: still the old (renamed) file
  await new Promise((r) => setTimeout(r, 200));
  await w.append('3\n');
  t.equal(read(opts.path + '.1'), '1\n2\n');
  t.equal(read(opts.path), '3\n', 'rename noticed without a signal');
  fs.renameSync(opts.path, opts.path + '.2');
  w.reopen();
  await w.append('4\n');
  t.equal(read(opts.path), '4\n', 'reopen() takes effect before the next batch');
  fs.unlinkSync(opts.path);
  await new Promise((r) => setTimeout(r, 200));
  await w.append('5\n');
  t.equal(read(opts.path), '5\n', 'a deleted file is recreated');
  t.ok(opts.records.some((r) => r.msg === 'audit file moved; reopening'));
});

t.test('close() writes what is queued, then refuses', async (t) => {
  const opts = options(t);
  const w = new AuditWriter(opts);
  await w.start();
  const pending = [w.append('a\n'), w.append('b\n')];
  await w.close();
  t.same(await Promise.all(pending.map(codeOf)), ['ok', 'ok']);
  t.equal(read(opts.path), 'a\nb\n');
  t.equal(await codeOf(w.append('c\n')), 'SHUTTING_DOWN');
});

t.test('ENOSPC mid-write: 503 WRITE_FAILED, the partial line is cut, recovery without restart', async (t) => {
  let full = false;
  const { AuditWriter: W } = await mockFs(t, {
    write: ((fd: number, buf: Buffer, off: number, len: number, pos: null, cb: (e: NodeJS.ErrnoException | null, n: number) => void) => {
      if (!full) return fs.write(fd, buf, off, len, pos, cb);
      if (len > 4) {
        // The kernel accepts part of the buffer, then the disk is full.
        fs.write(fd, buf, off, 4, pos, cb);
      } else {
        const e = Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
        process.nextTick(cb, e, 0);
      }
    }) as typeof fs.write,
  });
  const opts = options(t);
  const errors: string[] = [];
  opts.onError = (c) => errors.push(c);
  const w = started(t, W, opts);
  await w.append('first\n');
  full = true;
  t.equal(await codeOf(w.append('second-line\n')), 'WRITE_FAILED');
  t.equal(read(opts.path), 'first\n', 'no partial line stays');
  t.notOk(w.ready, 'not ready while writes fail');
  t.equal(await codeOf(w.append('third-line\n')), 'WRITE_FAILED');
  t.equal(opts.records.filter((r) => r.msg === 'audit write failed').length, 1, 'logged once, not per request');
  full = false;
  t.equal(await codeOf(w.append('fourth\n')), 'ok');
  t.equal(read(opts.path), 'first\nfourth\n');
  t.ok(w.ready);
  t.ok(opts.records.some((r) => r.msg === 'audit writes recovered'));
  t.same(errors, ['WRITE_FAILED', 'WRITE_FAILED']);
});

t.test('fdatasync failure (EIO): 503, the unsynced lines are cut back', async (t) => {
  let failSync = false;
  const { AuditWriter: W } = await mockFs(t, {
    fdatasync: ((fd: number, cb: (e: NodeJS.ErrnoException | null) => void) => {
      if (!failSync) return fs.fdatasync(fd, cb);
      process.nextTick(cb, Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }));
    }) as typeof fs.fdatasync,
  });
  const opts = options(t);
  const w = started(t, W, opts);
  await w.append('a\n');
  failSync = true;
  t.equal(await codeOf(w.append('b\n')), 'WRITE_FAILED');
  t.equal(read(opts.path), 'a\n');
  failSync = false;
  await w.append('c\n');
  t.equal(read(opts.path), 'a\nc\n');
});

t.test('durability write does not fdatasync', async (t) => {
  let syncs = 0;
  const { AuditWriter: W } = await mockFs(t, {
    fdatasync: ((fd: number, cb: (e: NodeJS.ErrnoException | null) => void) => {
      syncs++;
      fs.fdatasync(fd, cb);
    }) as typeof fs.fdatasync,
  });
  const w = started(t, W, options(t, { durability: 'write' }));
  await w.append('a\n');
  t.equal(syncs, 0);
});

/** A disk whose writes hang until released. */
async function stalledDisk(t: Tap.Test) {
  const held: (() => void)[] = [];
  let stall = false;
  const mod = await mockFs(t, {
    write: ((fd: number, buf: Buffer, off: number, len: number, pos: null, cb: (e: NodeJS.ErrnoException | null, n: number) => void) => {
      if (stall) held.push(() => fs.write(fd, buf, off, len, pos, cb));
      else fs.write(fd, buf, off, len, pos, cb);
    }) as typeof fs.write,
  });
  return { mod, held, setStall: (v: boolean) => (stall = v) };
}

t.test('slow disk: the queue is bounded in bytes; beyond it, refused at once', async (t) => {
  const { mod, held, setStall } = await stalledDisk(t);
  const opts = options(t, { maxQueueBytes: 65536, deadlineMs: 60000 });
  const w = started(t, mod.AuditWriter, opts);
  setStall(true);
  const first = w.append('x'.repeat(100) + '\n'); // in flight, stalled
  await new Promise((r) => setImmediate(r));
  const queued: Promise<string>[] = [];
  for (let i = 0; i < 64; i++) queued.push(codeOf(w.append('y'.repeat(1000) + '\n')));
  const start = Date.now();
  t.equal(await codeOf(w.append('z'.repeat(2000) + '\n')), 'OVERLOADED');
  t.ok(Date.now() - start < 50, 'refused at once');
  t.ok(w.queueBytes <= 65536);
  t.notOk(w.ready);
  setStall(false);
  held.splice(0).forEach((f) => f());
  t.equal(await codeOf(first), 'ok');
  t.same(new Set(await Promise.all(queued)), new Set(['ok']));
});

t.test('deadline: a caller never waits longer; a queued caller past it is never written', async (t) => {
  const { mod, held, setStall } = await stalledDisk(t);
  const opts = options(t, { deadlineMs: 100 });
  const w = started(t, mod.AuditWriter, opts);
  // The writer's timers are unref'd (they never hold a stopping process); a server would hold it.
  const keepAlive = setTimeout(() => {}, 5000);
  t.teardown(() => clearTimeout(keepAlive));
  await w.append('before\n');
  setStall(true);
  const start = Date.now();
  const inFlight = codeOf(w.append('in-flight\n'));
  await new Promise((r) => setImmediate(r));
  const queued = codeOf(w.append('queued\n'));
  t.equal(await inFlight, 'DEADLINE');
  t.equal(await queued, 'DEADLINE');
  t.ok(Date.now() - start < 400, `answered in ${Date.now() - start} ms`);
  setStall(false);
  held.splice(0).forEach((f) => f());
  await w.append('after\n');
  t.equal(read(opts.path), 'before\nin-flight\nafter\n', 'the expired queued callback was dropped; the in-flight one could not be recalled');
});

t.test('open failure (EACCES): 503 NOT_READY, retried with backoff, logged once', async (t) => {
  let deny = true;
  const { AuditWriter: W } = await mockFs(t, {
    openSync: ((p: fs.PathLike, flags: number, mode?: number) => {
      if (deny && String(p).endsWith('audit.ndjson')) throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
      return fs.openSync(p, flags, mode);
    }) as typeof fs.openSync,
  });
  const opts = options(t);
  const w = started(t, W, opts);
  t.notOk(w.ready);
  t.equal(await codeOf(w.append('a\n')), 'NOT_READY');
  await new Promise((r) => setTimeout(r, 350));
  t.equal(opts.records.filter((r) => r.msg === 'cannot open audit file; retrying').length, 1, 'one log line for the state change');
  deny = false;
  await new Promise((r) => setTimeout(r, 900));
  t.ok(w.ready, 'recovered by itself');
  await w.append('b\n');
  t.equal(read(opts.path), 'b\n');
});

// Issue #13: a line written between logrotate's rename and the reopen landed in the rotated file,
// which rsyslog had already let go. The path is now checked before every batch.
t.test('after a rename, the very next batch goes to the new file: no timer, no signal needed', async (t) => {
  for (const checkEachBatch of [true, false]) {
    const opts = options(t, { rotateCheckMs: 60000, checkEachBatch });
    const w = started(t, AuditWriter, opts);
    await w.append('one\n');
    fs.renameSync(opts.path, `${opts.path}.1`);
    await w.append('two\n');
    await w.append('three\n');
    if (checkEachBatch) {
      t.equal(read(`${opts.path}.1`), 'one\n', 'the rotated file holds only what was written before the rename');
      t.equal(read(opts.path), 'two\nthree\n', 'everything after it is in the new file');
      t.ok(opts.records.some((r) => r.msg === 'audit file moved; reopening' && r.reason === 'renamed'));
    } else {
      t.equal(read(`${opts.path}.1`), 'one\ntwo\nthree\n', 'without the check, the old file until the timer notices');
    }
    await w.close();
  }
});

// Issue #12: behind one 22 MB batch, legitimate callbacks waited 0.4-0.8 s for the disk.
/** Lines of 104 bytes: nine fill a slice of 1,000 bytes. */
const linesOf = (tag: string, n: number) => Array.from({ length: n }, (_, i) => `{"${tag}":"${String(i).padStart(4, '0')}","pad":"${'p'.repeat(80)}"}\n`).join('');

/**
 * node:fs whose n-th write (from 1) calls `on(n)` first; when `fail(n)`, the disk fills during it:
 * 10 bytes go (a short write), and writing the rest fails with ENOSPC.
 */
async function countedWrites(t: Tap.Test, on: (n: number) => void, fail: (n: number) => boolean = () => false) {
  let n = 0;
  let full = false;
  return mockFs(t, {
    write: ((fd: number, buf: Buffer, off: number, len: number, pos: null, cb: (e: NodeJS.ErrnoException | null, k: number) => void) => {
      if (full) {
        full = false;
        return process.nextTick(cb, Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }), 0);
      }
      const k = ++n;
      on(k);
      if (!fail(k)) return fs.write(fd, buf, off, len, pos, cb);
      full = true;
      fs.write(fd, buf, off, Math.min(len, 10), pos, cb);
    }) as typeof fs.write,
  });
}

t.test('a large callback goes out in slices of whole lines; small callbacks pass between them', async (t) => {
  const big = linesOf('big', 100); // 10.4 KB: twelve slices of nine lines (936 bytes)
  const order: string[] = [];
  let w: AuditWriter;
  const writes: number[] = [];
  const { AuditWriter: W } = await countedWrites(t, (n) => {
    // While the first and the fourth slice are on their way (writes 2 and 5), small callbacks arrive.
    if (n === 2 || n === 5) void w.append(`{"small":${n}}\n`).then(() => order.push(`small ${n}`));
  });
  const opts = options(t, { sliceBytes: 1000, onBatch: (b) => writes.push(b.bytes) });
  w = started(t, W, opts);
  await w.append('{"before":1}\n');
  await w.append(big).then(() => order.push('big'));
  t.same(order, ['small 2', 'small 5', 'big'], 'the small callbacks were answered before the large one');
  const text = read(opts.path);
  const lines = text.split('\n').slice(0, -1);
  t.equal(lines.length, 103);
  t.same(lines.filter((l) => l.startsWith('{"big"')).join('\n') + '\n', big, 'every line of it once, whole, in order');
  t.equal(lines.indexOf('{"small":2}'), 1 + 9, 'a small line landed after the first slice');
  // Writes: 1 before; 2 slice 1; 3 small 2 alone; 4, 5 slices 2 and 3; 6 small 5 alone.
  t.equal(lines.indexOf('{"small":5}'), 1 + 9 + 1 + 2 * 9, 'and another after the third slice (it came while that was written)');
  t.equal(writes.length, 1 + 12 + 2, 'one write a slice, and one for each small callback that waited behind one');
  t.ok(writes.every((b) => b <= 1000 + 20), `each write at most one slice and the small lines: ${Math.max(...writes)} bytes`);
});

t.test('a slice that fails before anything followed the callback: all of it is cut back', async (t) => {
  const { AuditWriter: W } = await countedWrites(t, () => {}, (n) => n === 4);
  const opts = options(t, { sliceBytes: 1000 });
  const errors: string[] = [];
  opts.onError = (c) => errors.push(c);
  const w = started(t, W, opts);
  await w.append('{"before":1}\n'); // write 1; the large one's slices are writes 2, 3, 4 (fails)
  t.equal(await codeOf(w.append(linesOf('big', 100))), 'WRITE_FAILED');
  t.equal(read(opts.path), '{"before":1}\n', 'nothing of the failed callback stays');
  t.same(errors, ['WRITE_FAILED']);
  t.notOk(opts.records.some((r) => String(r.msg).startsWith('lines of a callback')));
  await w.append('{"after":1}\n');
  t.equal(read(opts.path), '{"before":1}\n{"after":1}\n', 'and the next callback goes on from there');
});

t.test('with the chain on, a large callback cut back whole takes its links with it', async (t) => {
  const { AuditWriter: W } = await countedWrites(t, () => {}, (n) => n === 4);
  const opts = options(t, { sliceBytes: 1000, chain: true });
  const w = new W(opts);
  await w.start();
  t.teardown(() => w.close());
  await w.append('{"before":1}\n');
  t.equal(await codeOf(w.append(linesOf('big', 100))), 'WRITE_FAILED');
  await w.append('{"after":1}\n');
  const lines = read(opts.path).split('\n').slice(0, -1);
  t.same(lines.map((l) => Object.keys(JSON.parse(l))[0]), ['before', 'after']);
  t.equal(JSON.parse(lines[1]!).prev, lineHash(lines[0]!), 'the next line chains to the last one that stayed');
});

t.test('a slice that fails after acknowledged lines followed it: only that write is cut, and it is said', async (t) => {
  let w: AuditWriter;
  let small: Promise<string> | undefined;
  const { AuditWriter: W } = await countedWrites(
    t,
    (n) => {
      if (n === 2) small = codeOf(w.append('{"small":1}\n'));
    },
    (n) => n === 5,
  );
  const opts = options(t, { sliceBytes: 1000, chain: true });
  w = new W(opts);
  await w.start();
  t.teardown(() => w.close());
  await w.append('{"before":1}\n');
  const big = codeOf(w.append(linesOf('big', 100)));
  t.equal(await big, 'WRITE_FAILED');
  t.equal(await small, 'ok', 'the small callback that followed its first slice was acknowledged');
  const lines = read(opts.path).split('\n').slice(0, -1);
  t.ok(lines.every((l) => JSON.parse(l)), 'whole lines only');
  // Writes: 1 before; 2 the first slice; 3 the small one; 4 the second slice; 5 the third fails.
  t.same(lines.map((l) => Object.keys(JSON.parse(l))[0]), ['before', ...Array(9).fill('big'), 'small', ...Array(9).fill('big')], 'two slices kept; the failed one cut');
  const kept = opts.records.find((r) => String(r.msg).startsWith('lines of a callback answered WRITE_FAILED stay'));
  t.equal(kept?.lines, 18);
  // The chain runs through what stayed, and goes on from it.
  await w.append('{"after":1}\n');
  const all = read(opts.path).split('\n').slice(0, -1);
  for (let i = 1; i < all.length; i++) t.equal(JSON.parse(all[i]!).prev, lineHash(all[i - 1]!), `line ${i + 1} chained`);
});

t.test('a large callback past its deadline is answered DEADLINE and still written whole; after a rename, its rest goes to the new file', async (t) => {
  const { mod, held, setStall } = await stalledDisk(t);
  let written = 0;
  let allWritten: () => void;
  const done = new Promise<void>((r) => (allWritten = r));
  const total = '{"before":1}\n'.length + linesOf('big', 100).length;
  const opts = options(t, { sliceBytes: 1000, deadlineMs: 100, onBatch: (b) => (written += b.bytes) === total && allWritten() });
  const w = started(t, mod.AuditWriter, opts);
  const keepAlive = setTimeout(() => {}, 5000);
  t.teardown(() => clearTimeout(keepAlive));
  await w.append('{"before":1}\n');
  setStall(true);
  const big = codeOf(w.append(linesOf('big', 100)));
  await new Promise((r) => setImmediate(r));
  t.equal(held.length, 1, 'its first slice is on its way');
  fs.renameSync(opts.path, `${opts.path}.1`);
  t.equal(await big, 'DEADLINE');
  setStall(false);
  held.splice(0).forEach((f) => f());
  await done;
  t.equal(read(`${opts.path}.1`), '{"before":1}\n' + linesOf('big', 9), 'the renamed file: what was written before the rename');
  t.equal(read(opts.path), linesOf('big', 100).slice(linesOf('big', 9).length), 'the new file: the rest of it, each line once');
});

t.test('a reopen that fails between two slices: the large callback gets NOT_READY, its first slice stays, and it is said', async (t) => {
  let deny = false;
  let w: AuditWriter;
  let writes = 0;
  const patched = {
    write: ((fd: number, buf: Buffer, off: number, len: number, pos: null, cb: (e: NodeJS.ErrnoException | null, n: number) => void) => {
      // During the first slice (write 2), logrotate renames the file and the new one cannot be made.
      if (++writes === 2) {
        fs.renameSync(opts.path, `${opts.path}.1`);
        deny = true;
      }
      fs.write(fd, buf, off, len, pos, cb);
    }) as typeof fs.write,
    openSync: ((p: fs.PathLike, flags: number, mode?: number) => {
      if (deny && String(p).endsWith('audit.ndjson')) throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
      return fs.openSync(p, flags, mode);
    }) as typeof fs.openSync,
  };
  const { AuditWriter: W } = await mockFs(t, patched);
  const opts = options(t, { sliceBytes: 1000 });
  w = started(t, W, opts);
  await w.append('{"before":1}\n');
  t.equal(await codeOf(w.append(linesOf('big', 100))), 'NOT_READY');
  t.equal(read(`${opts.path}.1`), '{"before":1}\n' + linesOf('big', 9), 'the renamed file keeps what was written: whole lines');
  t.match(opts.records.find((r) => String(r.msg).startsWith('lines of a callback answered NOT_READY stay')), { lines: 9, code: 'NOT_READY' });
  deny = false;
  await new Promise((r) => setTimeout(r, 300));
  await w.append('{"after":1}\n');
  t.equal(read(opts.path), '{"after":1}\n', 'once the file can be made, writing goes on in it');
});

t.test('property: whatever the sizes and timing, every line once, whole, each callback in its order, the chain unbroken', async (t) => {
  const dir = t.testdir();
  let run = 0;
  let checked = 0;
  let sliceOnly = 0;
  const callback = fc.record({ lines: fc.integer({ min: 1, max: 40 }), pad: fc.integer({ min: 0, max: 300 }), turns: fc.integer({ min: 0, max: 3 }) });
  await fc.assert(
    fc.asyncProperty(fc.array(callback, { minLength: 1, maxLength: 25 }), fc.boolean(), async (cbs, chain) => {
      const { log } = memoryLog();
      const path = join(dir, `run-${++run}.ndjson`);
      const w = new AuditWriter({ path, durability: 'write', maxQueueBytes: 1 << 20, deadlineMs: 60000, rotateCheckMs: 60000, sliceBytes: 500, chain, log, onBatch: (b) => b.callbacks === 0 && sliceOnly++ });
      await w.start();
      const pending: Promise<void>[] = [];
      for (const [i, c] of cbs.entries()) {
        for (let k = 0; k < c.turns; k++) await new Promise((r) => setImmediate(r));
        const text = Array.from({ length: c.lines }, (_, j) => `{"cb":${i},"n":${j},"pad":"${'x'.repeat(c.pad)}"}\n`).join('');
        pending.push(w.append(i % 2 ? Buffer.from(text) : text));
      }
      await Promise.all(pending);
      await w.close();
      const lines = read(path).split('\n');
      if (lines.pop() !== '') return false;
      const seen = cbs.map(() => -1);
      for (const [k, l] of lines.entries()) {
        const rec = JSON.parse(l) as { cb: number; n: number; prev?: string };
        // Each callback's lines in order, none twice, none missing in between.
        if (rec.n !== seen[rec.cb]! + 1) return false;
        seen[rec.cb] = rec.n;
        if (chain && rec.prev !== (k === 0 ? GENESIS : lineHash(lines[k - 1]!))) return false;
        checked++;
      }
      return seen.every((n, i) => n === cbs[i]!.lines - 1);
    }),
    { numRuns: 150 },
  );
  t.ok(checked > 10000, `${checked} lines checked`);
  t.ok(sliceOnly > 100, `${sliceOnly} writes held only a slice of a callback still under way`);
});
