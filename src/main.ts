/**
 * The service's entry point (`npm start`, dist/main.js): `serve` with this process's arguments.
 * The `member-exit-audit` command (src/cli.ts) runs the same `serve` as its `serve` command.
 */
// First, and the only static import: it catches a SIGHUP that comes while the rest loads
// (src/sighup.ts); a static import of the service would load all of it before this runs.
import './sighup.js';

const { serve } = await import('./serve.js');
await serve(process.argv.slice(2));
