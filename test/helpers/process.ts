/** Run the built service (dist/) as a real process and read its pino lines. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export const MAIN = new URL('../../dist/main.js', import.meta.url).pathname;

export interface Proc {
  child: ChildProcess;
  logs: Record<string, unknown>[];
  stderr: string;
  /** Resolves with the first log record that matches. */
  waitFor(pred: (r: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function run(args: string[], env: Record<string, string>, cwd?: string): Proc {
  const child = spawn(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Record<string, unknown>[] = [];
  const waiters: { pred: (r: Record<string, unknown>) => boolean; resolve: (r: Record<string, unknown>) => void }[] = [];
  const proc: Proc = {
    child,
    logs,
    stderr: '',
    waitFor(pred, ms = 10000) {
      const found = logs.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching log line within ${ms} ms; got ${JSON.stringify(logs)} ${proc.stderr}`)), ms);
        waiters.push({ pred, resolve: (r) => (clearTimeout(timer), resolve(r)) });
      });
    },
    exited: new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal }))),
  };
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line);
    } catch {
      rec = { unparsed: line };
    }
    logs.push(rec);
    for (const w of waiters.splice(0)) {
      if (w.pred(rec)) w.resolve(rec);
      else waiters.push(w);
    }
  });
  child.stderr!.on('data', (d: Buffer) => (proc.stderr += d.toString()));
  return proc;
}

/** Start the service and wait for its `listening` line; returns the bound port. */
export async function runListening(args: string[], env: Record<string, string>, cwd?: string): Promise<Proc & { port: number }> {
  const p = run(args, { PORT: '0', ADMIN_PORT: '0', ...env }, cwd);
  const rec = await p.waitFor((r) => r.msg === 'listening');
  return Object.assign(p, { port: rec.port as number });
}
