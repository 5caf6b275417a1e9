/**
 * The table of audited CallbackCommands. Every other command (and an audited one turned off in
 * `audit.commands`) is answered OK with its body read and discarded, never parsed.
 */
import { ConfigError, type Config } from '../config.js';
import { groupDestroyed } from './group-destroyed.js';
import { memberExit } from './member-exit.js';
import type { CallbackEntry, CallbackModule } from './types.js';

export const TABLE: readonly CallbackEntry[] = [memberExit, groupDestroyed];

/** The modules of the commands the config audits, keyed by command, each with its configured limits. */
export function buildCallbacks(config: Pick<Config, 'audit' | 'limits'>): ReadonlyMap<string, CallbackModule> {
  const known = TABLE.map((e) => e.command);
  const unknown = Object.keys(config.audit.commands).filter((c) => !known.includes(c));
  if (unknown.length) {
    const allowed = known.map((c) => JSON.stringify(c)).join(', ');
    throw new ConfigError(`invalid config:\n${unknown.map((c) => `  - /audit/commands/${c}: not an audited command (one of ${allowed})`).join('\n')}`);
  }
  const out = new Map<string, CallbackModule>();
  for (const entry of TABLE) {
    const own = config.audit.commands[entry.command] ?? {};
    if (own.enabled === false) continue;
    const { accountBytes, groupIdBytes, wordBytes } = config.limits;
    out.set(entry.command, entry.build({ ...entry.defaults, ...stripUndefined(own), accountBytes, groupIdBytes, wordBytes }));
  }
  return out;
}

function stripUndefined(o: { bodyBytes?: number; members?: number }) {
  return Object.fromEntries(Object.entries(o).filter(([k, v]) => v !== undefined && k !== 'enabled'));
}
