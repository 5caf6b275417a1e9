/** The arguments `serve` and `check-config` share. */
import { ConfigError } from './config.js';

/** `--config FILE` or `--config=FILE`; anything else is refused so typos do not pass silently. */
export function parseServeArgs(argv: readonly string[], command = 'serve'): { config?: string } {
  const out: { config?: string } = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--config' && argv[i + 1] !== undefined) out.config = argv[++i];
    else if (a.startsWith('--config=')) out.config = a.slice(9);
    else throw new ConfigError(`unknown argument ${a} (usage: member-exit-audit ${command} [--config FILE])`);
  }
  return out;
}
