/**
 * The chain's head at start (issue #12 item 6): the hash of the last complete line, found in
 * bounded memory in plain files (read backwards) and gzip ones (streamed).
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip, gzipSync } from 'node:zlib';
import t from 'tap';
import { chainHeadAtStart, GENESIS, lineHash } from '../../src/audit/chain.js';

const big = (n: number, c = 'x') => `{"member":"${c.repeat(n)}"}`;

t.test('the last complete line, in plain and gzip files, whatever its length', async (t) => {
  const cases: [string, string][] = [
    ['short lines', 'a\nb\nlast\n'],
    ['a last line longer than a read', `a\n${big(300_000)}\n`],
    ['a last line spanning many reads, nothing before it', `${big(1_000_000, 'y')}\n`],
    ['a torn tail after the last line', `a\nlast\n{"torn":`],
    ['an empty line last', 'a\n\n'],
  ];
  for (const [name, text] of cases) {
    const lines = text.split('\n');
    const expected = lineHash(Buffer.from(lines[lines.length - 2]!));
    const dir = t.testdir({});
    writeFileSync(join(dir, 'p.ndjson'), text);
    t.equal(await chainHeadAtStart(join(dir, 'p.ndjson')), expected, `plain: ${name}`);
    writeFileSync(join(dir, 'g.ndjson'), '');
    writeFileSync(join(dir, 'g.ndjson.1.gz'), gzipSync(text));
    t.equal(await chainHeadAtStart(join(dir, 'g.ndjson')), expected, `gzip: ${name} (the current file empty: the newest rotated one)`);
  }
  const dir = t.testdir({ 'e.ndjson': '' });
  t.equal(await chainHeadAtStart(join(dir, 'e.ndjson')), GENESIS, 'no line at all: genesis');
});

t.test('a gzip holding a 256 MiB line is streamed: peak memory stays far below its size', { timeout: 120000 }, async (t) => {
  const dir = t.testdir({ 'a.ndjson': '' });
  const gz = join(dir, 'a.ndjson.1.gz');
  const chunk = Buffer.alloc(1 << 20, 0x61);
  await pipeline(
    (async function* () {
      yield Buffer.from('{"first":1}\n');
      for (let i = 0; i < 256; i++) yield chunk;
      yield Buffer.from('\n');
    })(),
    createGzip(),
    createWriteStream(gz),
  );
  const script = `import { chainHeadAtStart } from ${JSON.stringify(new URL('../../dist/audit/chain.js', import.meta.url).href)};
const head = await chainHeadAtStart(${JSON.stringify(join(dir, 'a.ndjson'))});
console.log(JSON.stringify({ head, maxRssMb: process.resourceUsage().maxRSS / 1024 }));`;
  const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }));
  const expected = execFileSync('sh', ['-c', `zcat ${gz} | tail -n 1 | head -c -1 | sha256sum`], { encoding: 'utf8' }).split(' ')[0];
  t.equal(out.head, expected, 'the hash of the 256 MiB line');
  t.ok(out.maxRssMb < 160, `peak RSS ${Math.round(out.maxRssMb)} MB for a 256 MiB line (gunzipSync held all of it)`);
});
