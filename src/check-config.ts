/**
 * `member-exit-audit check-config`: load the config exactly as `serve` would (defaults, the file,
 * the environment, token files, the audited commands) and say whether it would start, like
 * `nginx -t`: exit 0 and one line naming what was checked, or exit 2 and every problem. Nothing is
 * opened or bound; no token is printed.
 */
import { buildCallbacks } from './callbacks/index.js';
import { SERVE_OPTIONS } from './args.js';
import { statSync } from 'node:fs';
import { ConfigError, loadConfig, type AppConfig, type Config } from './config.js';
import { parseOptions, seeHelp, UsageError } from './options.js';
import { sealRefusal } from './audit/sealing.js';

export const CHECK_CONFIG_HELP = `Usage: member-exit-audit check-config [--config FILE]

Load the config as serve would (config/default.json, then --config FILE or
MEMBER_EXIT_AUDIT_CONFIG, then the environment, then the token files) and say whether the service
would start with it. Nothing is opened or bound; no token is printed.

  --config FILE    the config file
  -h, --help       this help

Exit status: 0 the service would start (WARNINGs name what it would refuse), 2 it would not
(every problem is named). Run as a user who cannot read a token file (not the service user),
that file is a WARNING: the service reads it, this user cannot check it.
`;

/**
 * What the service would do for tamper evidence (issue #21), as it decides at start
 * (src/audit/sealing.ts): chained and sealed, chained only (warned), or off. Throws when it would
 * not start: a required state missing, a state without the chain.
 */
function sealingOf(config: Readonly<Config>): string {
  const { stateFile } = config.audit.seal;
  let state: 'there' | 'missing' | string;
  try {
    state = statSync(stateFile).isFile() ? 'there' : 'not a file';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    state = code === 'ENOENT' ? 'missing' : (code ?? 'unreadable');
  }
  // A state this user cannot stat is neither: the service, as its own user, decides that one.
  const refusal = state === 'there' || state === 'missing' ? sealRefusal(config, state === 'there') : null;
  if (refusal === 'state without chain') throw new ConfigError(`invalid config:\n  - /audit/chain: false, but the sealing state ${stateFile} exists: seals cover the chain; set audit.chain to true`);
  if (refusal === 'required but missing') throw new ConfigError(`invalid config:\n  - /audit/seal/required: true, but there is no sealing state at ${stateFile}: run member-exit-audit setup-keys`);
  if (state === 'there') return `; chained and sealed (state ${stateFile})`;
  if (!config.audit.chain) return '; WARNING: no tamper evidence: audit.chain is false';
  if (state === 'missing') return `; WARNING: sealing is OFF: no sealing state at ${stateFile} (run member-exit-audit setup-keys, then restart)`;
  return `; WARNING: cannot check the sealing state ${stateFile} as uid ${process.getuid?.()}: ${state} (the service checks it as its own user)`;
}

type Io = { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; env: NodeJS.ProcessEnv };

const OPTIONS = { ...SERVE_OPTIONS, help: { type: 'boolean', short: 'h', default: false } } as const;

/** `check-config ARGV`, printing to `io`; resolves to the exit status. */
export async function checkConfig(argv: readonly string[], io: Io = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  try {
    const { values } = parseOptions([...argv], OPTIONS, false);
    if (values.help) {
      io.stdout.write(CHECK_CONFIG_HELP);
      return 0;
    }
    const file = values.config ?? io.env.MEMBER_EXIT_AUDIT_CONFIG;
    const config = loadConfig({ file, env: io.env, readTokens: 'as-far-as-permitted' });
    const audited = [...buildCallbacks(config).keys()];
    const unsigned = config.apps.filter((a) => !a.tokens).map((a) => a.sdkAppId);
    const listed = (key: 'missingTokenFiles' | 'unreadableTokenFiles') =>
      config.apps.filter((a: AppConfig) => a[key]).map((a) => `${a.sdkAppId} (${a[key]?.join(', ')})`);
    const missing = listed('missingTokenFiles');
    const sealing = sealingOf(config);
    const unreadable = listed('unreadableTokenFiles');
    io.stdout.write(
      `member-exit-audit: config OK (${file ?? 'defaults only'}): ${config.apps.length} app(s), audit file ${config.audit.file}, ` +
        `audited ${audited.join(', ')}` +
        (unsigned.length ? `; WARNING: no token for ${unsigned.join(', ')}: their callbacks are not authenticated` : '') +
        (missing.length ? `; WARNING: token file missing for ${missing.join('; ')}: none of its callbacks is taken (503 TOKEN_MISSING) until it is in place` : '') +
        sealing +
        (unreadable.length ? `; WARNING: cannot read token file for ${unreadable.join('; ')} as uid ${process.getuid?.()}: permission denied; not checked here (the service reads it as its own user: run check-config as that user to check it)` : '') +
        '\n',
    );
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`member-exit-audit check-config: ${err.message}\n${seeHelp('check-config')}\n`);
      return 2;
    }
    if (!(err instanceof ConfigError)) throw err;
    io.stderr.write(`member-exit-audit: ${err.message}\n`);
    return 2;
  }
}
