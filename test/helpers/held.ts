/**
 * The callback socket held outside the service, as systemd's member-exit-audit.socket holds it,
 * and handed to each new process (LISTEN_FDS): connections that arrive while no process runs wait
 * in the kernel's queue. test/helpers/hold-socket.py does the holding.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { MAIN } from './process.js';

const HOLDER = new URL('./hold-socket.py', import.meta.url).pathname;

export interface Held {
  /** The held port. */
  port: number;
  /** Every process started, in order. */
  pids: number[];
  /** Every pino line of every process. */
  logs: Record<string, unknown>[];
  /** Start a process on the socket; resolves once it logged `listening`. */
  start(): Promise<number>;
  /** Resolves once `pid` has exited (reaped). */
  exited(pid: number): Promise<void>;
  /** Resolves once `pred` holds for the log lines. */
  until(pred: () => boolean): Promise<void>;
  kill(): void;
}

type Test = { teardown(fn: () => unknown): void };

export async function holdSocket(t: Test, env: Record<string, string>): Promise<Held> {
  const holder = spawn('python3', [HOLDER, process.execPath, MAIN], {
    env: { PATH: process.env.PATH ?? '', ADMIN_PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const pids: number[] = [];
  const logs: Record<string, unknown>[] = [];
  let port = 0;
  const waiters: (() => void)[] = [];
  createInterface({ input: holder.stdout }).on('line', (line) => {
    if (/^\d+$/.test(line)) {
      if (!port) port = Number(line);
      else pids.push(Number(line));
    } else {
      try {
        logs.push(JSON.parse(line));
      } catch {
        // not ours
      }
    }
    for (const w of waiters.splice(0)) w();
  });
  const until = async (pred: () => boolean) => {
    while (!pred()) await new Promise<void>((r) => waiters.push(r));
  };
  const listening = () => logs.filter((r) => r.msg === 'listening').length;
  const held: Held = {
    port: 0,
    pids,
    logs,
    async start() {
      const before = listening();
      holder.stdin.write('start\n');
      await until(() => listening() > before);
      return pids.at(-1)!;
    },
    exited: (pid) =>
      new Promise<void>((resolve) => {
        const poll = setInterval(() => {
          try {
            process.kill(pid, 0);
          } catch {
            clearInterval(poll);
            resolve();
          }
        }, 20);
      }),
    until,
    kill: () => {
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      holder.kill('SIGKILL');
    },
  };
  t.teardown(() => held.kill());
  await until(() => port !== 0);
  held.port = port;
  return held;
}
