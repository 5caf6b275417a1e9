/**
 * The built service stays lean (issue #24, docs/performance.md): what the bundler settings in
 * scripts/esbuild-lean.mjs and the package's single mime-types are there for, held to the build
 * `npm test` has just made and to a real process started from it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
// @ts-expect-error: a build script, plain JavaScript without types.
import { assertAscii } from '../scripts/esbuild-lean.mjs';
import { runListening } from './helpers/process.js';
import { exitBody, post } from './helpers/service.js';

const DIST = new URL('../dist/', import.meta.url).pathname;
const bundles = readdirSync(DIST).filter((f) => /^(main|bundle-.*)\.js$/.test(f));

t.test('the build refuses a bundle that is not ASCII: V8 would hold its source as two-byte characters', async (t) => {
  t.doesNotThrow(() => assertAscii('plain.js', 'const a = "\\u2014"; // ASCII, the dash escaped'));
  t.throws(() => assertAscii('dash.js', 'const a = 1; // a comment \u2014 with a dash'), /dash\.js: a non-ASCII character at offset 26/);
});

t.test('every file of the built service is ASCII', async (t) => {
  t.ok(bundles.some((f) => f.startsWith('bundle-serve-')), 'the serve chunk is among them');
  for (const f of bundles) t.equal(readFileSync(join(DIST, f), 'utf8').search(/[^\x00-\x7f]/), -1, f);
});

t.test('one mime-db in the bundle (the package.json override), not one per copy of mime-types', async (t) => {
  const serve = bundles.find((f) => f.startsWith('bundle-serve-'))!;
  const sources: string[] = JSON.parse(readFileSync(join(DIST, `${serve}.map`), 'utf8')).sources;
  t.equal(sources.filter((s) => s.endsWith('mime-db/db.json')).length, 1, sources.filter((s) => /mime-(db|types)\//.test(s)).join(', '));
  t.equal(sources.filter((s) => s.endsWith('mime-types/index.js')).length, 1);
});

t.test('the running service never loads Node.js fetch stack (undici): node:http is required, not imported', async (t) => {
  const dir = t.testdir();
  const listFile = join(dir, 'loaded.txt');
  const p = await runListening([], { AUDIT_FILE: join(dir, 'a.ndjson'), NODE_OPTIONS: `--import ${new URL('./helpers/loaded-modules.mjs', import.meta.url).pathname}`, LOADED_MODULES_FILE: listFile }, dir);
  t.teardown(() => p.child.kill('SIGKILL'));
  t.equal((await post(p.port, exitBody())).status, 200, 'a callback answered');
  p.child.kill('SIGTERM');
  t.equal((await p.exited).code, 0);
  const loaded = readFileSync(listFile, 'utf8').split('\n');
  t.ok(loaded.includes('NativeModule http'), 'the list is real: node:http is in it');
  t.same(loaded.filter((m) => /undici|webstreams/.test(m)), [], 'no undici, no web streams');
});
