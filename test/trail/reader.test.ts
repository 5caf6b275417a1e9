import { gzipSync } from 'node:zlib';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import t from 'tap';
import { readLines } from '../../src/trail/reader.js';

async function collect(src: string | Readable, needle?: string) {
  const out: [number, string][] = [];
  for await (const l of readLines(src, 'x', needle === undefined ? {} : { needle: Buffer.from(needle) })) out.push([l.lineNo, l.bytes.toString()]);
  return out;
}

const lines = Array.from({ length: 5000 }, (_, i) => `{"n":${i},"member":"${i % 7 === 0 ? 'jared' : `m${i}`}","pad":"${'x'.repeat(i % 400)}"}`);
const text = lines.join('\n') + '\n';

t.test('every line with its number, across chunk boundaries, plain and gzip', async (t) => {
  const dir = t.testdir();
  writeFileSync(join(dir, 'plain'), text);
  writeFileSync(join(dir, 'gz'), gzipSync(text));
  const want = lines.map((l, i) => [i + 1, l]);
  t.same(await collect(join(dir, 'plain')), want);
  t.same(await collect(join(dir, 'gz')), want, 'gzip told by content, not name');
  // Tiny chunks: every line straddles a boundary somewhere.
  t.same(await collect(Readable.from(Array.from({ length: Math.ceil(text.length / 7) }, (_, i) => Buffer.from(text.slice(i * 7, i * 7 + 7))))), want);
});

t.test('with a needle: only lines that contain it, with their true numbers', async (t) => {
  const dir = t.testdir();
  writeFileSync(join(dir, 'plain'), text);
  const want = lines.map((l, i) => [i + 1, l] as [number, string]).filter(([, l]) => l.includes('"member":"jared"'));
  t.same(await collect(join(dir, 'plain'), '"member":"jared"'), want);
  t.same(await collect(Readable.from(Array.from({ length: Math.ceil(text.length / 13) }, (_, i) => Buffer.from(text.slice(i * 13, i * 13 + 13)))), '"member":"jared"'), want, 'across boundaries');
  t.same(await collect(join(dir, 'plain'), 'no such thing'), []);
});

t.test('a last line without a newline is handed out; empty input gives nothing', async (t) => {
  t.same(await collect(Readable.from([Buffer.from('a\nb')])), [[1, 'a'], [2, 'b']]);
  t.same(await collect(Readable.from([Buffer.from('a\nb')]), 'b'), [[2, 'b']]);
  t.same(await collect(Readable.from([])), []);
});
