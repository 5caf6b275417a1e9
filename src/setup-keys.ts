/**
 * `member-exit-audit setup-keys`: make the sealing state (config audit.seal.stateFile) and print
 * the verification key, once. The state stays on the box, readable by its owner only (the
 * service user: run as root, the file is given to the owner of its folder, which systemd's
 * StateDirectory= makes the service user's); the verification key goes elsewhere (a password
 * manager, a second host). Like `journalctl --setup-keys`.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { epochStart, fingerprint, formatVerificationKey, KEY_BYTES, MIN_INTERVAL_MS } from './audit/seal-key.js';
import { firstState, storeState } from './audit/seal-state.js';
import { ConfigError, loadConfig } from './config.js';

export const SETUP_KEYS_HELP = `Usage: member-exit-audit setup-keys [--interval DURATION] [--force] [--config FILE]

Make the sealing state (config audit.seal.stateFile) and print the verification key, once. Keep
that key off this machine (a password manager, a second host): verify --verify-key needs it, and
anyone holding it can make seals. Restart the service afterwards: it seals from its next start.

  --interval DURATION  epoch length, e.g. 15m (default), 1h, 30s; at least 1s. Fixed in the key.
  --force              replace an existing state (seals made with the old key then need the old
                       key to verify; stop the service first)
  --config FILE        config file naming the state file
  -h, --help           this help

Exit status: 0 made, 1 a state already exists (without --force) or cannot be written, 2 usage.
`;

type Io = { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; now?: () => number };

/** `15m`, `1h`, `30s`, `1500ms` in ms; NaN when it is none of those. */
export function parseDuration(text: string): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(text);
  if (!m) return NaN;
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
}

/** `setup-keys ARGV`; resolves to the exit status. */
export async function setupKeys(argv: string[], io: Io = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const fail = (code: number, message: string) => (io.stderr.write(`member-exit-audit setup-keys: ${message}\n`), code);
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { interval: { type: 'string', default: '15m' }, force: { type: 'boolean', default: false }, config: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } },
    }));
  } catch (err) {
    return fail(2, `${(err as Error).message}\n\n${SETUP_KEYS_HELP}`);
  }
  if (values.help) return (io.stdout.write(SETUP_KEYS_HELP), 0);
  const intervalMs = parseDuration(values.interval);
  if (!(intervalMs >= MIN_INTERVAL_MS)) return fail(2, `--interval ${values.interval}: give a duration of at least 1s, such as 15m`);
  let stateFile: string;
  try {
    stateFile = loadConfig({ file: values.config, readTokens: false }).audit.seal.stateFile;
  } catch (err) {
    if (err instanceof ConfigError) return fail(2, err.message);
    throw err;
  }
  if (fs.existsSync(stateFile) && !values.force) {
    return fail(1, `${stateFile} exists: the service may be sealing with it. Replacing it needs --force (and the old verification key to verify what was sealed before).`);
  }
  const now = (io.now ?? Date.now)();
  // Epochs on whole multiples of the interval, as journald's: 15-minute epochs at :00, :15, ...
  const startMs = epochStart({ startMs: 0, intervalMs }, Math.floor(now / intervalMs));
  const v = { key0: randomBytes(KEY_BYTES), startMs, intervalMs };
  try {
    const dir = dirname(stateFile);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = fs.statSync(dir);
    storeState(stateFile, firstState(v), process.getuid?.() === 0 ? { uid: st.uid, gid: st.gid } : undefined);
  } catch (err) {
    return fail(1, `cannot write ${stateFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const key = formatVerificationKey(v);
  const fp = fingerprint(v);
  v.key0.fill(0);
  io.stdout.write(
    `Sealing state written to ${stateFile} (epochs of ${values.interval} from ${new Date(startMs).toISOString()}, key ${fp}).\n` +
      'The verification key, shown this once: keep it OFF this machine (a password manager, a second host).\n\n' +
      `    ${key}\n\n` +
      `Check the trail with: member-exit-audit verify --verify-key ${key}\n` +
      'Restart the service now: it seals from its next start (docs/investigating.md, "Tamper evidence").\n',
  );
  return 0;
}
