/** The table of handled CallbackCommands. Commands not listed here are answered OK and not written. */
import type { Config } from '../config.js';
import type { CallbackFactory, CallbackModule } from './types.js';
import { memberExit } from './member-exit.js';

const FACTORIES: readonly CallbackFactory[] = [memberExit];

export function buildCallbacks(limits: Config['limits']): ReadonlyMap<string, CallbackModule> {
  return new Map(FACTORIES.map((f) => f(limits)).map((m) => [m.command, m]));
}
