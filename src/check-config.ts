/**
 * `member-exit-audit check-config`: load the config exactly as `serve` would (defaults, the file,
 * the environment, token files, the audited commands) and say whether it would start, like
 * `nginx -t`: exit 0 and one line naming what was checked, or exit 2 and every problem. Nothing is
 * opened or bound; no token is printed.
 */
import { buildCallbacks } from './callbacks/index.js';
import { ConfigError, loadConfig } from './config.js';
import { parseServeArgs } from './args.js';

type Io = { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; env: NodeJS.ProcessEnv };

export async function checkConfig(argv: readonly string[], io: Io = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  try {
    const file = parseServeArgs(argv, 'check-config').config ?? io.env.MEMBER_EXIT_AUDIT_CONFIG;
    const config = loadConfig({ file, env: io.env });
    const audited = [...buildCallbacks(config).keys()];
    const unsigned = config.apps.filter((a) => !a.tokens).map((a) => a.sdkAppId);
    const missing = config.apps.filter((a) => a.missingTokenFiles).map((a) => `${a.sdkAppId} (${a.missingTokenFiles?.join(', ')})`);
    io.stdout.write(
      `member-exit-audit: config OK (${file ?? 'defaults only'}): ${config.apps.length} app(s), audit file ${config.audit.file}, ` +
        `audited ${audited.join(', ')}` +
        (unsigned.length ? `; WARNING: no token for ${unsigned.join(', ')}: their callbacks are not authenticated` : '') +
        (missing.length ? `; WARNING: token file missing for ${missing.join('; ')}: callbacks it signs are refused until it is in place` : '') +
        '\n',
    );
    return 0;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.stderr.write(`member-exit-audit: ${err.message}\n`);
    return 2;
  }
}
