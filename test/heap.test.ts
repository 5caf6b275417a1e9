import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { V8_FLAGS } from '../src/heap.js';

t.test('every flag the service sets is one this Node.js knows (a misspelt one is only a warning in setFlagsFromString)', async (t) => {
  t.ok(V8_FLAGS.includes('--no-allocation-site-pretenuring'), 'pretenuring off (issue #24)');
  for (const flag of V8_FLAGS) {
    const run = spawnSync(process.execPath, [flag, '-e', '0'], { encoding: 'utf8' });
    t.equal(run.status, 0, `${flag}: ${run.stderr.trim() || 'accepted'}`);
  }
  t.equal(spawnSync(process.execPath, ['--no-allocation-site-pretenurin', '-e', '0']).status, 9, 'the check refuses a misspelt flag');
});

t.test('tuneHeap hands each flag to V8', async (t) => {
  const set: string[] = [];
  const heap = await t.mockImport<typeof import('../src/heap.js')>('../src/heap.js', {
    'node:v8': { default: { setFlagsFromString: (flag: string) => set.push(flag) } },
  });
  heap.tuneHeap();
  t.same(set, [...V8_FLAGS]);
});

t.test('serve tunes the heap before it reads the config', async (t) => {
  const order: string[] = [];
  const { serve } = await t.mockImport<typeof import('../src/serve.js')>('../src/serve.js', {
    '../src/heap.js': { V8_FLAGS, tuneHeap: () => order.push('tuneHeap') },
  });
  const exit = process.exit;
  const write = process.stderr.write;
  t.teardown(() => {
    process.exit = exit;
    process.stderr.write = write;
  });
  process.stderr.write = ((s: string) => order.push(`stderr: ${s.includes('missing.json') ? 'names the file' : s}`)) as typeof write;
  process.exit = ((code: number) => {
    throw Object.assign(new Error('exit'), { exitCode: code });
  }) as typeof exit;
  await t.rejects(serve(['--config', join(t.testdir(), 'missing.json')]), { exitCode: 2 });
  t.same(order, ['tuneHeap', 'stderr: names the file']);
});
