/**
 * The process: config -> service; SIGHUP reopens, SIGTERM/SIGINT drain and exit 0.
 * Exit codes: 0 clean stop, 1 failure at run time (or a drain that outran its grace, or lines that
 * could not be written before exit), 2 bad config.
 */
import { parseServeArgs } from './args.js';
import { ConfigError, loadConfig } from './config.js';
import { tuneHeap } from './heap.js';
import { createLogger } from './log.js';
import { startService } from './service.js';
import { takeEarlyHangup } from './sighup.js';

/** Past the grace, how long the stop may still take before the process exits regardless (a write hung on a sick disk). */
const HARD_STOP_MS = 5000;

export async function serve(argv: readonly string[]): Promise<void> {
  // `pgrep -f member-exit-audit`, `ps`, top: the service by its name, not Node's thread name.
  process.title = 'member-exit-audit';
  tuneHeap();
  let config;
  let file: string | undefined;
  try {
    file = parseServeArgs(argv).config ?? process.env.MEMBER_EXIT_AUDIT_CONFIG;
    config = loadConfig({ file });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${process.env.JOURNAL_STREAM ? '<3>' : ''}member-exit-audit: ${err.message}\n`);
    process.exit(2);
  }
  const log = createLogger(config.logLevel);
  let service;
  try {
    service = await startService(config, log, { configFile: file ?? null });
  } catch (err) {
    if (err instanceof ConfigError) {
      // Found only once the service is built (an audit.commands key that names no module).
      process.stderr.write(`${process.env.JOURNAL_STREAM ? '<3>' : ''}member-exit-audit: ${err.message}\n`);
      process.exit(2);
    }
    log.fatal({ stage: 'starting', err: { code: (err as NodeJS.ErrnoException).code, message: (err as Error).message } }, 'cannot start');
    process.exit(1);
  }
  const hangup = () => {
    log.info({ stage: 'sending' }, 'SIGHUP: reopening the audit file and re-reading the config');
    let next;
    try {
      next = loadConfig({ file });
    } catch (err) {
      // A ConfigError names keys and files, never a value from them.
      log.error({ stage: 'receiving', err: { message: (err as Error).message } }, 'config reload failed; the running config stays');
    }
    service.reload(next);
  };
  process.on('SIGHUP', hangup);
  // A SIGHUP that came while the service was starting (logrotate's postrotate, a reload) is done now.
  if (takeEarlyHangup()) hangup();
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      // A second SIGTERM: the operator does not want to wait for the drain.
      log.warn({ stage: 'stopping', signal }, 'second signal: exiting without waiting for the drain');
      process.exit(1);
    }
    stopping = true;
    log.info({ stage: 'stopping', signal }, 'draining');
    setTimeout(() => {
      log.error({ stage: 'stopping' }, 'the drain outran shutdownGraceMs by far: exiting');
      process.exit(1);
    }, config.shutdownGraceMs + HARD_STOP_MS).unref();
    service.stop().then(
      (inTime) => {
        log.info({ stage: 'stopping', inTime }, 'stopped');
        process.exit(inTime ? 0 : 1);
      },
      (err: Error) => {
        log.fatal({ stage: 'stopping', err: { message: err.message } }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
