/**
 * The operational log: pino JSON on stdout, written so that it can never stop the service.
 *
 * Under systemd (stdout is the journal stream named by JOURNAL_STREAM) each line starts with its
 * syslog priority, `<4>` for a warning (sd-daemon(3): journald reads the prefix with
 * SyslogLevelPrefix=yes, its default), then the message, then the JSON record: `journalctl -p
 * warning` finds the warnings, and a person reading `journalctl -u` sees what happened first.
 * Anywhere else the lines are pino's JSON, unchanged.
 *
 * A stdout with no reader (journald restarted, a closed pipe) must not hold the process: pino's
 * default destination retries a failed synchronous flush forever, so a SIGTERM never ended the
 * process (issue #23). Here a write that fails with anything but EAGAIN gives the log up for
 * good; EAGAIN (a full pipe) is retried briefly, then the line is dropped and counted.
 */
import fs from 'node:fs';
import { pino, type Logger } from 'pino';

/** pino's numeric levels to syslog priorities (crit, err, warning, info, debug). */
const PRIORITY: Record<number, number> = { 60: 2, 50: 3, 40: 4, 30: 6, 20: 7, 10: 7 };

/** How long one line may wait for a full pipe before it is dropped. */
const EAGAIN_WAIT_MS = 20;
const EAGAIN_TRIES = 5;

const sleep = new Int32Array(new SharedArrayBuffer(4));

/** Whether fd 1 is the journal stream systemd connected (JOURNAL_STREAM is "device:inode"). */
export function stdoutIsJournal(env: NodeJS.ProcessEnv = process.env, fd = 1): boolean {
  const m = /^(\d+):(\d+)$/.exec(env.JOURNAL_STREAM ?? '');
  if (!m) return false;
  try {
    const st = fs.fstatSync(fd);
    return st.dev === Number(m[1]) && st.ino === Number(m[2]);
  } catch {
    return false;
  }
}

/** `<priority>message {json}` from one pino line (pino writes `msg` last). */
export function journalLine(line: string): string {
  const level = /^\{"level":(\d+)/.exec(line)?.[1];
  const at = line.lastIndexOf(',"msg":');
  let msg = '';
  if (at !== -1) {
    try {
      msg = JSON.parse(line.slice(at + 7, line.length - (line.endsWith('}\n') ? 2 : 1))) as string;
    } catch {
      msg = '';
    }
  }
  return `<${PRIORITY[Number(level)] ?? 6}>${msg ? `${msg} ` : ''}${line}`;
}

/** A pino destination on `fd` that gives up instead of blocking (see above). */
export class SafeStdout {
  broken: string | null = null;
  dropped = 0;

  constructor(
    private readonly fd = 1,
    private readonly transform: ((line: string) => string) | null = null,
  ) {}

  write(line: string): boolean {
    if (this.broken) return true;
    const buf = Buffer.from(this.transform ? this.transform(line) : line);
    let off = 0;
    for (let tries = 0; off < buf.length; ) {
      try {
        off += fs.writeSync(this.fd, buf, off);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
        if (code === 'EAGAIN' && ++tries <= EAGAIN_TRIES) {
          Atomics.wait(sleep, 0, 0, EAGAIN_WAIT_MS / EAGAIN_TRIES);
          continue;
        }
        if (code === 'EAGAIN') this.dropped++;
        else this.broken = code;
        return true;
      }
    }
    return true;
  }
}

/** The service's logger at `level`, on stdout. */
export function createLogger(level: string, env: NodeJS.ProcessEnv = process.env): Logger {
  // Touching process.stdout makes libuv put a pipe or socket on fd 1 in non-blocking mode: a
  // write to a full pipe then fails with EAGAIN at once instead of blocking the event loop.
  void process.stdout;
  const dest = new SafeStdout(1, stdoutIsJournal(env) ? journalLine : null);
  return pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Our `err` fields are already plain { code, message } objects: log them as they are.
      serializers: { err: (e: unknown) => e },
    },
    dest,
  );
}
