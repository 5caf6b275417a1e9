import fs from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
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
