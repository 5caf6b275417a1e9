// Bundle the service's entry point (dist/main.js) into one file after tsc has type-checked and
// emitted the project. Node 20 loads ESM packages module by module: TypeBox 1.x alone is 709
// files and took ~250 ms to import, so the service took ~620 ms from start to its first accepted
// callback. One file loads in a fraction of that (docs/performance.md). pino stays external: it
// resolves its worker files at run time. cli.js, query and verify stay unbundled: they load little.
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { build } from 'esbuild';
import { assertAscii, LEAN } from './esbuild-lean.mjs';

// The chunks' names carry a hash: the last build's would stay beside this one's (and go into a package).
for (const f of readdirSync('dist')) if (f.startsWith('bundle-')) rmSync(`dist/${f}`);

// Split at main.ts's dynamic import: dist/main.js is then a few lines that catch SIGHUP (src/sighup.ts)
// before V8 has parsed the rest (1.5 MB of it), which goes into dist/bundle-*.js.
await build({
  entryPoints: ['src/main.ts'],
  outdir: 'dist',
  entryNames: '[name]',
  // Beside main.js, not in a folder: code that finds config/ from import.meta.url lands in a chunk.
  chunkNames: 'bundle-[name]-[hash]',
  splitting: true,
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'esm',
  sourcemap: true,
  external: ['pino'],
  // The CommonJS packages inside (Koa and friends) call require() for Node's built-ins.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: 'warning',
  ...LEAN,
});
for (const f of readdirSync('dist')) if (/^(main|bundle-.*)\.js$/.test(f)) assertAscii(`dist/${f}`, readFileSync(`dist/${f}`, 'utf8'));
