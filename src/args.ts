/** The arguments of `serve`: `--config FILE`, as `serve` and `check-config` read them. */
import { ConfigError } from './config.js';
import { parseOptions, seeHelp } from './options.js';

/** The options `serve` takes (its `--help` is answered by cli.ts; `npm start --help` is refused). */
export const SERVE_OPTIONS = { config: { type: 'string' } } as const;

/**
 * `--config FILE` (or `--config=FILE`); anything else is refused as a ConfigError (exit 2) naming
 * it, so typos do not pass silently: `unknown option --confg (did you mean --config?)`.
 */
export function parseServeArgs(argv: readonly string[], command = 'serve'): { config?: string } {
  try {
    return { config: parseOptions([...argv], SERVE_OPTIONS, false).values.config };
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}\n${seeHelp(command)}`);
  }
}
