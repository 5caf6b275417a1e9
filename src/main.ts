/**
 * The service's entry point (`npm start`, dist/main.js): `serve` with this process's arguments.
 * The `member-exit-audit` command (src/cli.ts) runs the same `serve` as its `serve` command.
 */
import { serve } from './serve.js';

await serve(process.argv.slice(2));
