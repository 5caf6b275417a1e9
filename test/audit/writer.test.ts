import fs from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import { GENESIS, lineHash } from '../../src/audit/chain.js';
import { AuditWriter, type WriterOptions } from '../../src/audit/writer.js';
import { memoryLog } from '../helpers/log.js';
import { writerWithFs } from '../helpers/mock-fs.js';


function options(t: Tap.Test, over: Partial<WriterOptions> = {}): WriterOptions & { records: Record<string, unknown>[] } {
  const { log, records } = memoryLog();
  return { path: join(t.testdir(), 'sub', 'audit.ndjson'), durability: 'fsync', maxQueueBytes: 1 << 20, deadlineMs: 1500, rotateCheckMs: 50, log, records, ...over };
}

function started(t: Tap.Test, Writer: typeof AuditWriter, opts: WriterOptions): AuditWriter {
  const w = new Writer(opts);
  // Without a chain, start() opens the file and arms its timers before it first yields.
  void w.start();
  t.teardown(() => w.close());
  return w;
}

const read = (p: string) => fs.readFileSync(p, 'utf8');
const codeOf = (p: Promise<unknown>) => p.then(() => 'ok', (e: { code: string }) => e.code);

const mockFs = writerWithFs;

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

/** node:fs whose writes fail while `full()`: 4 bytes go (a short write), then ENOSPC. */
async function fillingDisk(t: Tap.Test, full: () => boolean) {
  return mockFs(t, {
    write: ((fd: number, buf: Buffer, off: number, len: number, pos: null, cb: (e: NodeJS.ErrnoException | null, n: number) => void) => {
      if (!full()) return fs.write(fd, buf, off, len, pos, cb);
      if (len > 4) return fs.write(fd, buf, off, 4, pos, cb);
      process.nextTick(cb, Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }), 0);
    }) as typeof fs.write,
  });
}

/** Keeps the event loop alive for a test whose only handles are the writer's (unref'd) timers. */
function holdLoop(t: Tap.Test): void {
  const keepAlive = setInterval(() => {}, 1000);
  t.teardown(() => clearInterval(keepAlive));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Issue #19: a quick 503 is, for Tencent, a delivered event: it is never resent.
t.test('ENOSPC mid-write: the partial line is cut, the lines kept and retried; the caller is answered only at its deadline, and they are written once the disk has room', async (t) => {
  let full = false;
  const { AuditWriter: W } = await fillingDisk(t, () => full);
  holdLoop(t);
  const opts = options(t, { deadlineMs: 200 });
  const errors: string[] = [];
  const late: number[] = [];
  let retries = 0;
  Object.assign(opts, { onError: (c: string) => errors.push(c), onRetry: () => retries++, onLines: (k: string, n: number) => k === 'late' && late.push(n) });
  const w = started(t, W, opts);
  await w.append('first\n');
  full = true;
  const start = Date.now();
  const second = codeOf(w.append('second-line\n'));
  const third = codeOf(w.append('third-line\n'));
  t.equal(await second, 'WRITE_FAILED', 'answered with the fault of the moment');
  t.ok(Date.now() - start >= 190, `not before the deadline (${Date.now() - start} ms)`);
  t.equal(await third, 'WRITE_FAILED');
  t.equal(read(opts.path), 'first\n', 'no partial line stays');
  t.notOk(w.ready, 'not ready while writes fail');
  t.ok(retries >= 2, `retried with backoff (${retries} tries)`);
  t.equal(opts.records.filter((r) => r.msg === 'audit write failed; keeping the lines and retrying').length, 1, 'logged once, not per try or request');
  full = false;
  t.equal(await codeOf(w.append('fourth\n')), 'ok');
  t.equal(read(opts.path), 'first\nsecond-line\nthird-line\nfourth\n', 'the kept lines first, in order, each once');
  t.ok(w.ready);
  t.match(opts.records.find((r) => r.msg === 'audit writes recovered'), { after: 'WRITE_FAILED' });
  t.same(errors, ['WRITE_FAILED', 'WRITE_FAILED'], 'one per caller answered with the fault');
  t.same(late, [1, 1], 'two lines written after their callers were answered');
});

t.test('a disk that gets room back before the deadline: the caller is answered OK, never with the fault', async (t) => {
  let full = true;
  const { AuditWriter: W } = await fillingDisk(t, () => full);
  holdLoop(t);
  const opts = options(t, { deadlineMs: 5000 });
  const w = started(t, W, opts);
  const p = codeOf(w.append('a\n'));
  await sleep(150);
  full = false;
  t.equal(await p, 'ok');
  t.equal(read(opts.path), 'a\n');
});

t.test('fdatasync failure (EIO): the unsynced lines are cut back and written again', async (t) => {
  let failSync = false;
  const { AuditWriter: W } = await mockFs(t, {
    fdatasync: ((fd: number, cb: (e: NodeJS.ErrnoException | null) => void) => {
      if (!failSync) return fs.fdatasync(fd, cb);
      process.nextTick(cb, Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }));
    }) as typeof fs.fdatasync,
  });
  holdLoop(t);
  const opts = options(t, { deadlineMs: 100 });
  const w = started(t, W, opts);
  await w.append('a\n');
  failSync = true;
  const b = codeOf(w.append('b\n'));
  t.equal(await b, 'WRITE_FAILED');
  t.equal(read(opts.path), 'a\n', 'cut back while the sync fails');
  failSync = false;
  await w.append('c\n');
  t.equal(read(opts.path), 'a\nb\nc\n');
});

t.test('a failed write that cannot be cut back: the file is reopened (its torn tail cut) before the retry', async (t) => {
  let fail = 1;
  let truncs = 0;
  const { AuditWriter: W } = await mockFs(t, {
    write: ((fd: number, buf: Buffer, off: number, len: number, pos: null, cb: (e: NodeJS.ErrnoException | null, n: number) => void) => {
      if (fail === 1 && len > 3) return fs.write(fd, buf, off, 3, pos, cb);
      if (fail-- === 1) return process.nextTick(cb, Object.assign(new Error('EIO'), { code: 'EIO' }), 0);
      fs.write(fd, buf, off, len, pos, cb);
    }) as typeof fs.write,
    // The cut-back fails; the torn-tail cut of the reopen that follows does not.
    ftruncateSync: ((fd: number, len?: number) => {
      if (truncs++ === 0) throw Object.assign(new Error('EIO'), { code: 'EIO' });
      fs.ftruncateSync(fd, len);
    }) as typeof fs.ftruncateSync,
  });
  holdLoop(t);
  const opts = options(t);
  const w = started(t, W, opts);
  t.equal(await codeOf(w.append('first\n')), 'ok', 'written on the retry');
  t.equal(read(opts.path), 'first\n', 'the 3 bytes of the failed try were cut as a torn tail');
  t.match(opts.records.find((r) => r.msg === 'audit write failed; keeping the lines and retrying'), { undone: false });
  t.match(opts.records.find((r) => r.msg === 'cut torn tail of audit file'), { bytes: 3 });
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

t.test('slow disk: past the bound, callers wait for room (nothing queued is dropped); room comes as the disk drains', async (t) => {
  const { mod, held, setStall } = await stalledDisk(t);
  holdLoop(t);
  const opts = options(t, { maxQueueBytes: 65536, deadlineMs: 60000 });
  const w = started(t, mod.AuditWriter, opts);
  setStall(true);
  const first = w.append('x'.repeat(100) + '\n'); // in flight, stalled
  await new Promise((r) => setImmediate(r));
  const queued: Promise<string>[] = [];
  for (let i = 0; i < 70; i++) queued.push(codeOf(w.append('y'.repeat(1000) + '\n')));
  t.notOk(w.hasRoom, 'over the bound');
  t.notOk(w.ready);
  let roomed = false;
  const room = w.room().then(() => (roomed = true));
  await sleep(50);
  t.notOk(roomed, 'a new caller waits for room');
  setStall(false);
  held.splice(0).forEach((f) => f());
  await room;
  t.equal(await codeOf(first), 'ok');
  t.same(new Set(await Promise.all(queued)), new Set(['ok']), 'every one queued past the bound is written');
  t.equal(read(opts.path).split('\n').length - 1, 71);
});

t.test('no room by the deadline: OVERLOADED, at the deadline and not before', async (t) => {
  const { mod, held, setStall } = await stalledDisk(t);
  holdLoop(t);
  const errors: string[] = [];
  const opts = options(t, { maxQueueBytes: 65536, deadlineMs: 150, onError: (c) => errors.push(c) });
  const w = started(t, mod.AuditWriter, opts);
  setStall(true);
  void w.append('z'.repeat(70000) + '\n').catch(() => {});
  const start = Date.now();
  t.equal(await codeOf(w.room(start)), 'OVERLOADED');
  t.ok(Date.now() - start >= 140, `after ${Date.now() - start} ms`);
  t.ok(errors.includes('OVERLOADED'));
  setStall(false);
  held.splice(0).forEach((f) => f());
});

t.test('deadline: a caller never waits longer; its lines are written all the same', async (t) => {
  const { mod, held, setStall } = await stalledDisk(t);
  holdLoop(t);
  const late: number[] = [];
  const opts = options(t, { deadlineMs: 100, onLines: (k, n) => k === 'late' && late.push(n) });
  const w = started(t, mod.AuditWriter, opts);
  await w.append('before\n');
  setStall(true);
  const start = Date.now();
  const inFlight = codeOf(w.append('in-flight\n'));
  await new Promise((r) => setImmediate(r));
  const queued = codeOf(w.append('queued\n'));
  t.equal(await inFlight, 'DEADLINE');
  t.equal(await queued, 'DEADLINE');
  t.ok(Date.now() - start >= 95, 'not before the deadline');
  t.equal(held.length, 1, 'answered while the disk still holds the write: the deadline, not the disk, decided');
  setStall(false);
  held.splice(0).forEach((f) => f());
  await w.append('after\n');
  t.equal(read(opts.path), 'before\nin-flight\nqueued\nafter\n', 'both written, in order');
  t.same(late, [1, 1]);
});

t.test('open failure (EACCES): retried with backoff, logged once; lines queued meanwhile are written once it opens', async (t) => {
  let deny = true;
  const { AuditWriter: W } = await mockFs(t, {
    openSync: ((p: fs.PathLike, flags: number, mode?: number) => {
      if (deny && String(p).endsWith('audit.ndjson')) throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
      return fs.openSync(p, flags, mode);
    }) as typeof fs.openSync,
  });
  holdLoop(t);
  const opts = options(t, { deadlineMs: 100 });
  const w = started(t, W, opts);
  t.notOk(w.ready);
  t.equal(await codeOf(w.append('a\n')), 'NOT_READY', 'answered NOT_READY at its deadline');
  await sleep(250);
  t.equal(opts.records.filter((r) => r.msg === 'cannot open audit file; retrying').length, 1, 'one log line for the state change');
  deny = false;
  await sleep(1100);
  t.ok(w.ready, 'recovered by itself');
  await w.append('b\n');
  t.equal(read(opts.path), 'a\nb\n', 'the line queued while it could not open is there');
});

t.test('close(grace): a disk that comes back within the grace gets everything; one that does not: counted and logged', async (t) => {
  let full = true;
  const { AuditWriter: W } = await fillingDisk(t, () => full);
  const opts = options(t, { deadlineMs: 50 });
  const w = new W(opts);
  await w.start();
  const answered = [codeOf(w.append('a\n')), codeOf(w.append('b\nc\n'))];
  setTimeout(() => (full = false), 200);
  t.same(await w.close(5000), { callbacks: 0, lines: 0 }, 'written within the grace');
  t.equal(read(opts.path), 'a\nb\nc\n');
  t.same(await Promise.all(answered), ['WRITE_FAILED', 'WRITE_FAILED']);

  full = true;
  const opts2 = options(t, { deadlineMs: 50 });
  const w2 = new W(opts2);
  await w2.start();
  void w2.append('d\n').catch(() => {});
  void w2.append('e\nf\n').catch(() => {});
  t.same(await w2.close(300), { callbacks: 2, lines: 3 }, 'the grace ran out with the disk still full');
  t.match(opts2.records.find((r) => r.msg === 'audit lines not written before exit: their callers were not acknowledged'), { level: 50, callbacks: 2, lines: 3, fault: 'WRITE_FAILED' });
  t.equal(read(opts2.path), '', 'nothing partial');
  full = false;
});

t.test('dedup: a resend (same ids) is not written again; one that comes while the first is queued waits for it', async (t) => {
  const { mod, held, setStall } = await stalledDisk(t);
  holdLoop(t);
  const dups: number[] = [];
  const opts = options(t, { dedupWindowMs: 60000, dedupMaxIds: 1000, onLines: (k, n) => k === 'duplicate' && dups.push(n) });
  const w = started(t, mod.AuditWriter, opts);
  // Ids as the service makes them: 32 lowercase hex characters (any other is never matched).
  const [A, B, C, D] = ['a', 'b', 'c', 'd'].map((c) => c.repeat(32));
  await w.append('{"id":"a"}\n{"id":"b"}\n', Date.now(), [A, B]);
  await w.append('{"id":"a"}\n{"id":"b"}\n', Date.now(), [A, B]);
  t.equal(read(opts.path), '{"id":"a"}\n{"id":"b"}\n', 'a resend of lines on disk: nothing written');
  await w.append('{"id":"b"}\n{"id":"c"}\n', Date.now(), [B, C]);
  t.equal(read(opts.path), '{"id":"a"}\n{"id":"b"}\n{"id":"c"}\n', 'only the new line of a partly new callback');
  setStall(true);
  let firstDone = false;
  const first = w.append('{"id":"d"}\n', Date.now(), [D]).then(() => (firstDone = true));
  await new Promise((r) => setImmediate(r));
  let resendDone = false;
  const resend = w.append('{"id":"d"}\n', Date.now(), [D]).then(() => (resendDone = true));
  await sleep(30);
  t.notOk(resendDone, 'the resend is not acknowledged before the first copy is on disk');
  setStall(false);
  held.splice(0).forEach((f) => f());
  await Promise.all([first, resend]);
  t.ok(firstDone && resendDone);
  t.equal(read(opts.path).split('\n').filter((l) => l === '{"id":"d"}').length, 1, 'written once');
  t.same(dups, [2, 1, 1]);
  // Lines without stable ids (no EventTime: random ids) are never matched.
  await w.append('{"x":1}\n');
  await w.append('{"x":1}\n');
  t.equal(read(opts.path).split('\n').filter((l) => l === '{"x":1}').length, 2);
});

t.test('dedup after a restart: the ids at the tail of the file (within the window) are remembered', async (t) => {
  const opts = options(t, { dedupWindowMs: 60000, dedupMaxIds: 1000 });
  fs.mkdirSync(join(opts.path, '..'), { recursive: true });
  const line = (id: string, at: number) => `{"member":"m","receivedAt":"${new Date(at).toISOString()}","id":"${id}"}\n`;
  const old = 'a'.repeat(32);
  const recent = 'b'.repeat(32);
  fs.writeFileSync(`${opts.path}.1`, line(old, Date.now() - 3600_000));
  fs.writeFileSync(opts.path, line(recent, Date.now() - 1000));
  const w = started(t, AuditWriter, opts);
  await w.append(line(recent, Date.now()), Date.now(), [recent]);
  await w.append(line(old, Date.now()), Date.now(), [old]);
  const ids = read(opts.path).split('\n').filter(Boolean).map((l) => JSON.parse(l).id);
  t.same(ids, [recent, old], 'the recent one was not written again; the one outside the window was');
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

t.test('a slice that fails is cut back and retried: every line of the callback once, in order, and it is answered OK', async (t) => {
  let w: AuditWriter;
  let small: Promise<string> | undefined;
  const writes: number[] = [];
  const { AuditWriter: W } = await countedWrites(
    t,
    (n) => {
      if (n === 2) small = codeOf(w.append('{"small":1}\n'));
    },
    (n) => n === 5,
  );
  const opts = options(t, { sliceBytes: 1000, onBatch: (b) => writes.push(b.bytes) });
  w = started(t, W, opts);
  await w.append('{"before":1}\n');
  t.equal(await codeOf(w.append(linesOf('big', 100))), 'ok');
  t.equal(await small, 'ok');
  const lines = read(opts.path).split('\n').slice(0, -1);
  t.same(lines.filter((l) => l.startsWith('{"big"')).join('\n') + '\n', linesOf('big', 100), 'every line of it once, whole, in order');
  t.equal(lines.length, 102);
  t.notOk(opts.records.some((r) => String(r.msg).startsWith('lines of a callback')), 'nothing given up');
});

t.test('with the chain on, a failed slice takes its links back and the retry chains on from the line before it', async (t) => {
  const { AuditWriter: W } = await countedWrites(t, () => {}, (n) => n === 4);
  const opts = options(t, { sliceBytes: 1000, chain: true });
  const w = new W(opts);
  await w.start();
  t.teardown(() => w.close());
  await w.append('{"before":1}\n');
  t.equal(await codeOf(w.append(linesOf('big', 100))), 'ok');
  await w.append('{"after":1}\n');
  const lines = read(opts.path).split('\n').slice(0, -1);
  t.equal(lines.length, 102);
  for (let i = 1; i < lines.length; i++) if (JSON.parse(lines[i]!).prev !== lineHash(lines[i - 1]!)) t.fail(`line ${i + 1} not chained`);
  t.equal(JSON.parse(lines.at(-1)!).prev, lineHash(lines.at(-2)!), 'the chain runs through the retried slice');
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

t.test('a reopen that fails between two slices: the large callback waits, and its rest goes to the new file once it can be made', async (t) => {
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
  holdLoop(t);
  const opts = options(t, { sliceBytes: 1000, deadlineMs: 100 });
  w = started(t, W, opts);
  await w.append('{"before":1}\n');
  const big = w.append(linesOf('big', 100));
  t.equal(await codeOf(big), 'NOT_READY', 'answered NOT_READY at its deadline');
  t.equal(read(`${opts.path}.1`), '{"before":1}\n' + linesOf('big', 9), 'the renamed file keeps what was written: whole lines');
  deny = false;
  const rest = linesOf('big', 100).slice(linesOf('big', 9).length);
  for (let i = 0; i < 100 && !(fs.existsSync(opts.path) && read(opts.path) === rest); i++) await sleep(30);
  t.equal(read(opts.path), rest, 'the rest of it, in the new file, each line once');
  await w.append('{"after":1}\n');
  t.equal(read(opts.path), rest + '{"after":1}\n');
});

t.test('property: whatever the sizes, timing and failed writes, every line once, whole, each callback in its order, the chain unbroken', async (t) => {
  const dir = t.testdir();
  let run = 0;
  let checked = 0;
  let sliceOnly = 0;
  let failedWrites = 0;
  // Writes numbered in `failing` fail part-way: 10 bytes go, then ENOSPC (a disk filling up).
  let failing = new Set<number>();
  let n = 0;
  let full = false;
  const { AuditWriter: W } = await mockFs(t, {
    write: ((fd: number, buf: Buffer, off: number, len: number, pos: null, cb: (e: NodeJS.ErrnoException | null, k: number) => void) => {
      if (full) {
        full = false;
        return process.nextTick(cb, Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }), 0);
      }
      if (!failing.has(++n)) return fs.write(fd, buf, off, len, pos, cb);
      failedWrites++;
      full = true;
      fs.write(fd, buf, off, Math.min(len, 10), pos, cb);
    }) as typeof fs.write,
  });
  const callback = fc.record({ lines: fc.integer({ min: 1, max: 40 }), pad: fc.integer({ min: 0, max: 300 }), turns: fc.integer({ min: 0, max: 3 }) });
  await fc.assert(
    fc.asyncProperty(fc.array(callback, { minLength: 1, maxLength: 25 }), fc.boolean(), fc.uniqueArray(fc.integer({ min: 1, max: 30 }), { maxLength: 3 }), async (cbs, chain, fails) => {
      const { log } = memoryLog();
      const path = join(dir, `run-${++run}.ndjson`);
      failing = new Set(fails);
      n = 0;
      full = false;
      const w = new W({ path, durability: 'write', maxQueueBytes: 1 << 20, deadlineMs: 60000, rotateCheckMs: 60000, sliceBytes: 500, chain, log, onBatch: (b) => b.callbacks === 0 && sliceOnly++ });
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
  t.ok(failedWrites > 50, `${failedWrites} writes failed part-way and were retried`);
});
