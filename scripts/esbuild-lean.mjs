// What the two bundles (scripts/bundle.mjs for dist/, scripts/package.mjs for the .deb) share to
// keep the running service small (issue #24: peak RSS at 256 connections). Each item was measured
// on an idle service (process.memoryUsage after a full GC, and VmRSS; docs/performance.md).

/**
 * Whitespace minified, so the bundle's text is ASCII: V8 keeps a script's whole source in the heap
 * (lazy functions compile from it), as one-byte characters only if every one of them is Latin-1.
 * Comments that esbuild keeps (@koa/router's carry em dashes) made the 2.6 MB source a two-byte
 * string of 5.2 MB; minified it is 1.5 MB of one-byte characters, and the table of its line ends
 * (0.5 MB for 68,000 lines) goes with most of the lines. Names stay as written, and lines are cut
 * near 200 characters where esbuild can (5,700 lines), so a stack trace in the journal still names
 * the function and a line of the bundle one can open (minified to a handful of lines, every frame
 * would be line 1).
 */
export const LEAN = { minifyWhitespace: true, lineLimit: 200, plugins: [httpByRequire()] };

/**
 * node:http through require(), never an ES import. An ES import of a built-in reads every export
 * to build its namespace, and node:http's include WebSocket, CloseEvent and MessageEvent: getters
 * that load Node's fetch stack (undici, web streams, http2, zlib's bindings, worker_threads) that
 * the service never uses. Measured on Node 24.21: `await import('node:http')` 59 MB RSS, 6.5 MB
 * heap; `require('node:http')` 46 MB, 4.2 MB. esbuild turns the named imports of a CommonJS
 * module into property reads at the time of use, so no getter runs.
 */
function httpByRequire() {
  return {
    name: 'http-by-require',
    setup(build) {
      build.onResolve({ filter: /^(node:)?http$/ }, (args) =>
        args.kind === 'import-statement' || args.kind === 'dynamic-import' ? { path: 'node:http', namespace: 'http-by-require' } : undefined,
      );
      build.onLoad({ filter: /.*/, namespace: 'http-by-require' }, () => ({ contents: "module.exports = require('node:http');", loader: 'js' }));
    },
  };
}

/** Refuse a bundle whose text is not ASCII (see LEAN): it would double its source's memory. */
export function assertAscii(name, text) {
  const at = text.search(/[^\x00-\x7f]/);
  if (at !== -1) throw new Error(`${name}: a non-ASCII character at offset ${at} (${JSON.stringify(text.slice(Math.max(0, at - 40), at + 10))}): V8 would hold the whole source as two-byte characters`);
}
