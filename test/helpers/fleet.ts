/**
 * Several instances of the built service (dist/main.js), each on ports of its own that stay the
 * same when it is killed and started again (a load balancer in front keeps pointing at them), and
 * Debian's HAProxy in front of them with the shipped config/haproxy/member-exit-audit.cfg.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { recorded } from './im-backend.js';
import { run, type Proc } from './process.js';

const CONFIG = new URL('../../config/haproxy/member-exit-audit.cfg', import.meta.url).pathname;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Test = { teardown(fn: () => unknown): void };

/** A port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Instance {
  name: string;
  port: number;
  adminPort: number;
  /** Its audit file. */
  file: string;
  /** The running process (the last one started). */
  proc: Proc;
  /** Every process started, in order. */
  procs: Proc[];
  /** Start a process (again) on the same ports; resolves once it listens. */
  start(): Promise<void>;
  /** Send `signal` and wait for the process to exit. */
  stop(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** An instance writing `file`, on two fixed free ports. Killed at teardown. */
export async function instance(t: Test, name: string, file: string, env: Record<string, string> = {}, args: string[] = []): Promise<Instance> {
  const port = await freePort();
  const adminPort = await freePort();
  const inst: Instance = {
    name,
    port,
    adminPort,
    file,
    proc: undefined as unknown as Proc,
    procs: [],
    async start() {
      const p = run(args, { PORT: String(port), ADMIN_PORT: String(adminPort), AUDIT_FILE: file, LOG_LEVEL: 'warn', ...env });
      inst.procs.push(p);
      inst.proc = p;
      // LOG_LEVEL=warn still prints the `listening` line (docs/operations.md, "Logs").
      await p.waitFor((r) => r.msg === 'listening', 15000);
    },
    async stop(signal) {
      const p = inst.proc;
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill(signal);
      return p.exited;
    },
  };
  t.teardown(() => {
    for (const p of inst.procs) p.child.kill('SIGKILL');
  });
  await inst.start();
  return inst;
}

export interface Balancer {
  port: number;
  statsPort: number;
  child: ChildProcess;
  /** HAProxy's log lines (httplog: one per callback), and its alerts and warnings. */
  log: string[];
  /** Its Prometheus metrics (the shipped config's stats frontend). */
  metrics(): Promise<string>;
  /** Resolves once every named server is UP in HAProxy's eyes. */
  waitUp(servers: string[], ms?: number): Promise<void>;
  /** Callbacks HAProxy sent to more than one instance before it had an answer (httplog's retries field). */
  resent(): number;
}

/**
 * Debian's HAProxy with the shipped config, its addresses from the environment as on a VM, loaded
 * after a first file standing in for Debian's /etc/haproxy/haproxy.cfg (a global section that
 * logs, and an unnamed defaults section the shipped file must not depend on). Logs to stdout.
 */
export async function haproxy(t: Test, bin: string, dir: string, a: Instance, b: Instance, extraEnv: Record<string, string> = {}): Promise<Balancer> {
  const port = await freePort();
  const statsPort = await freePort();
  const debian = join(dir, 'haproxy.cfg');
  writeFileSync(
    debian,
    'global\n    log stdout format raw local0\n\ndefaults\n    log global\n    mode http\n    option httplog\n    timeout connect 5000\n    timeout client 50000\n    timeout server 50000\n',
  );
  const env = {
    PATH: process.env.PATH ?? '',
    MEA_BIND: `127.0.0.1:${port}`,
    MEA_A: `127.0.0.1:${a.port}`,
    MEA_A_CHECK_PORT: String(a.adminPort),
    MEA_B: `127.0.0.1:${b.port}`,
    MEA_B_CHECK_PORT: String(b.adminPort),
    MEA_STATS_BIND: `127.0.0.1:${statsPort}`,
    // Abstract socket names are shared by the whole host: one of its own per run.
    MEA_HOLD: `member-exit-audit-hold-${process.pid}-${port}`,
    ...extraEnv,
  };
  const child = spawn(bin, ['-db', '-f', debian, '-f', CONFIG], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => log.push(l));
  createInterface({ input: child.stderr! }).on('line', (l) => log.push(l));
  t.teardown(() => child.kill('SIGKILL'));
  const metrics = () =>
    new Promise<string>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: statsPort, path: '/metrics' }, (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve(text));
        })
        .on('error', reject);
    });
  const balancer: Balancer = {
    port,
    statsPort,
    child,
    log,
    metrics,
    async waitUp(servers, ms = 15000) {
      const until = Date.now() + ms;
      for (;;) {
        const text = await metrics().catch(() => '');
        if (servers.every((s) => text.includes(`haproxy_server_status{proxy="member_exit_audit",server="${s}",state="UP"} 1`))) return;
        if (Date.now() > until || child.exitCode !== null) throw new Error(`HAProxy servers ${servers.join(', ')} not all up: ${log.slice(-20).join('\n')}`);
        await sleep(100);
      }
    },
    // httplog's connection counters end in the retries field, "+N" when redispatched.
    resent: () => log.filter((l) => / \d+\/\d+\/\d+\/\d+\/\+?[1-9]\d* \d+\/\d+ "/.test(l)).length,
  };
  await balancer.waitUp(['a', 'b']);
  return balancer;
}

/** Lines per member across several instances' trails (each with its rotated files): what an investigator finds in all of them together. */
export function union(...files: string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const f of files) for (const [m, n] of recorded(f)) out.set(m, (out.get(m) ?? 0) + n);
  return out;
}
