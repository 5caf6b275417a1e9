#!/usr/bin/env node
/**
 * The `member-exit-audit` command: `serve` (the service), `query`, `verify`.
 */
// First: catches a SIGHUP that comes while the service loads (src/sighup.ts); released at once
// for the other commands.
import { releaseHangup } from './sighup.js';

// Each command loads only what it needs: query must not pay for Koa, pino and prom-client.

const HELP = `Usage: member-exit-audit <command> [options]

Commands:
  serve [--config FILE]          run the service (what npm start runs)
  query [options] [FILE]         find audit lines: --member, --group, --operator, --since, ...
  verify [FILE...]               check the tamper-evidence chain across the current and rotated files
  check-config [--config FILE]   check the config as serve would load it; exit 0 (OK) or 2
  setup-keys [--interval 15m]    make the sealing state and print the verification key, once
  --version                      print the version

member-exit-audit <command> --help shows a command's options.
`;

const SERVE_HELP = `Usage: member-exit-audit serve [--config FILE]

Receive Group.CallbackAfterMemberExit callbacks and append one NDJSON line per exited member.
Config: config/default.json, then --config FILE (or MEMBER_EXIT_AUDIT_CONFIG), then the
environment (HOST, PORT, AUDIT_FILE, SDKAPPID, DURABILITY, LOG_LEVEL, CALLBACK_TOKEN, ADMIN_PORT,
SEAL_STATE_FILE).
Signals: SIGHUP reopens the audit file; SIGTERM drains and exits 0. Bad config: exit 2.
`;

const [command, ...rest] = process.argv.slice(2);
if (command !== 'serve') releaseHangup();
const wantsHelp = rest.includes('--help') || rest.includes('-h');
switch (command) {
  case 'serve':
    if (wantsHelp) process.stdout.write(SERVE_HELP);
    else await (await import('./serve.js')).serve(rest);
    break;
  case 'query':
    process.exitCode = await (await import('./trail/query.js')).query(rest);
    break;
  case 'verify':
    process.exitCode = await (await import('./trail/verify.js')).verify(rest);
    break;
  case 'check-config':
    process.exitCode = await (await import('./check-config.js')).checkConfig(rest);
    break;
  case 'setup-keys':
    process.exitCode = await (await import('./setup-keys.js')).setupKeys(rest);
    break;
  case '--version':
  case '-v':
    process.stdout.write(`member-exit-audit ${(await import('./version.js')).VERSION}\n`);
    break;
  case undefined:
  case '--help':
  case '-h':
  case 'help':
    process.stdout.write(HELP);
    process.exitCode = command === undefined ? 2 : 0;
    break;
  default:
    process.stderr.write(`member-exit-audit: unknown command ${command}\n\n${HELP}`);
    process.exitCode = 2;
}
