/**
 * The process: config -> service; SIGHUP reopens, SIGTERM/SIGINT drain and exit 0.
 * Exit codes: 0 clean stop, 1 failure at run time (or a drain that outran its grace), 2 bad config.
 */
import { pino } from 'pino';
import { parseServeArgs } from './args.js';
import { ConfigError, loadConfig } from './config.js';
import { startService } from './service.js';

export async function serve(argv: readonly string[]): Promise<void> {
  let config;
  let file: string | undefined;
  try {
    file = parseServeArgs(argv).config;
    config = loadConfig({ file });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`member-exit-audit: ${err.message}\n`);
    process.exit(2);
  }
  const log = pino({
    level: config.logLevel,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Our `err` fields are already plain { code, message } objects: log them as they are.
    serializers: { err: (e: unknown) => e },
  });
  let service;
  try {
    service = await startService(config, log);
  } catch (err) {
    if (err instanceof ConfigError) {
      // Found only once the service is built (an audit.commands key that names no module).
      process.stderr.write(`member-exit-audit: ${err.message}\n`);
      process.exit(2);
    }
    log.fatal({ stage: 'starting', err: { code: (err as NodeJS.ErrnoException).code, message: (err as Error).message } }, 'cannot start');
    process.exit(1);
  }
  process.on('SIGHUP', () => {
    log.info({ stage: 'sending' }, 'SIGHUP: reopening the audit file and re-reading the config');
    let next;
    try {
      next = loadConfig({ file });
    } catch (err) {
      // A ConfigError names keys and files, never a value from them.
      log.error({ stage: 'receiving', err: { message: (err as Error).message } }, 'config reload failed; the running config stays');
    }
    service.reload(next);
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ stage: 'stopping', signal }, 'draining');
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
