/**
 * Whether the service seals, decided once at start from the config and the state file: sealing
 * is on when `audit.seal.stateFile` exists; without it the service still starts (a fresh install
 * before setup-keys), chained only, and says so loudly at every start, unless
 * `audit.seal.required` makes that a refusal.
 */
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { LATE_MS } from './seal-line.js';
import { Sealer } from './sealer.js';

/**
 * The two set-ups that must not start, given whether the sealing state exists: both the service
 * (sealerFor) and check-config ask this, each saying it its own way.
 */
export function sealRefusal(config: Readonly<Config>, stateExists: boolean): 'required but missing' | 'state without chain' | null {
  if (!stateExists) return config.audit.seal.required ? 'required but missing' : null;
  return config.audit.chain ? null : 'state without chain';
}

/** The sealer for this start, or null (not set up). Throws what must stop the start. */
export function sealerFor(config: Readonly<Config>, log: Logger, now?: () => number): Sealer | null {
  const { stateFile } = config.audit.seal;
  const sealer = Sealer.open({ stateFile, log, now });
  const refusal = sealRefusal(config, sealer !== null);
  if (!sealer) {
    if (refusal) throw Object.assign(new Error(`audit.seal.stateFile ${stateFile} does not exist and audit.seal.required is true: run member-exit-audit setup-keys`), { code: 'ENOENT' });
    log.warn(
      { stage: 'starting', stateFile },
      'sealing is OFF: no sealing state, so anyone who becomes root can rewrite the whole chained trail undetected; run `member-exit-audit setup-keys` and restart (docs/investigating.md, "Tamper evidence")',
    );
    return null;
  }
  if (refusal) throw Object.assign(new Error(`audit.chain is false but the sealing state ${stateFile} exists: seals cover the chain; set audit.chain to true`), { code: 'ECONFIG' });
  if (config.limits.requestTimeoutMs >= LATE_MS) {
    log.warn({ stage: 'starting', requestTimeoutMs: config.limits.requestTimeoutMs }, 'limits.requestTimeoutMs is a minute or more: a line taken in that long after its callback arrived can follow its epoch\'s seal by more than verify allows');
  }
  log.info({ stage: 'starting', stateFile, epoch: sealer.epoch, epochMs: sealer.intervalMs, key: sealer.fingerprint }, 'sealing on');
  return sealer;
}
