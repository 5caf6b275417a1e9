// npm run bench:haproxy: what the balancer costs and what a second instance buys. The same load
// (bench/load.mjs, autocannon, distinct callbacks) straight to one instance, through Debian's
// HAProxy with the shipped config (config/haproxy/member-exit-audit.cfg) to that one instance,
// and through it to two. Rows interleaved, RUNS times, medians; writes bench/haproxy-results.json.
// Nothing is pinned: the instances, HAProxy and the load share the machine's cores, as they do on a
// VM running HAProxy beside the service (on separate VMs a second instance has cores of its own).
//
// Two measures: throughput (as fast as answered, CONNECTIONS connections) and the latency HAProxy
// adds at a fixed rate well below saturation (RATE callbacks a second), where queueing does not
// hide it.
// Env: DURATION (s per run, default 10), RUNS (default 3), CONNECTIONS (default 64), RATE (default
// 500), DURABILITY (fsync, or write), HAPROXY (its path, default haproxy on PATH).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const DURATION = Number(process.env.DURATION ?? 10);
const RUNS = Number(process.env.RUNS ?? 3);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 64);
const RATE = Number(process.env.RATE ?? 500);
const DURABILITY = process.env.DURABILITY ?? 'fsync';
const HAPROXY = process.env.HAPROXY ?? 'haproxy';
const ROOT = new URL('..', import.meta.url).pathname;
const CONFIG = join(ROOT, 'config/haproxy/member-exit-audit.cfg');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const dir = mkdtempSync(join(tmpdir(), 'mea-bench-haproxy-'));
const children = [];
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** An instance as the unit runs it (its NODE_OPTIONS), on fixed ports; resolves once it listens. */
async function startInstance(name) {
  const port = await freePort();
  const adminPort = await freePort();
  const flags = /^Environment=NODE_OPTIONS=(.*)$/m.exec(readFileSync(join(ROOT, 'systemd/member-exit-audit.service'), 'utf8'))?.[1] ?? '';
  const child = spawn(process.execPath, [...flags.split(' ').filter(Boolean), join(ROOT, 'dist/main.js')], {
    env: { PATH: process.env.PATH, PORT: String(port), ADMIN_PORT: String(adminPort), AUDIT_FILE: join(dir, name, 'member-exit.ndjson'), DURABILITY, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  await new Promise((resolve) => createInterface({ input: child.stdout }).on('line', (l) => l.includes('"msg":"listening"') && resolve()));
  return { port, adminPort, pid: child.pid };
}

/** HAProxy with the shipped config in front of a and b; resolves once both servers are UP. */
async function startHaproxy(a, b) {
  const port = await freePort();
  const stats = await freePort();
  const global = join(dir, 'haproxy-global.cfg');
  writeFileSync(global, 'global\n    log stdout format raw local0\n');
  const child = spawn(HAPROXY, ['-db', '-f', global, '-f', CONFIG], {
    env: {
      PATH: process.env.PATH,
      MEA_BIND: `127.0.0.1:${port}`,
      MEA_A: `127.0.0.1:${a.port}`,
      MEA_A_CHECK_PORT: String(a.adminPort),
      MEA_B: `127.0.0.1:${b.port}`,
      MEA_B_CHECK_PORT: String(b.adminPort),
      MEA_STATS_BIND: `127.0.0.1:${stats}`,
      MEA_HOLD: `member-exit-audit-bench-${process.pid}-${port}`,
    },
    // httplog would write a line per callback to the pipe: measured without it, as on a VM that logs to syslog.
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  for (;;) {
    const text = await new Promise((resolve) => http.get({ host: '127.0.0.1', port: stats, path: '/metrics' }, (res) => { let t = ''; res.on('data', (d) => (t += d)); res.on('end', () => resolve(t)); }).on('error', () => resolve('')));
    if (['a', 'b'].every((s) => text.includes(`server="${s}",state="UP"} 1`))) return { port, pid: child.pid };
    await sleep(100);
  }
}

/** One run of bench/load.mjs against `port`. */
function load(port, prefix, seconds = DURATION, rate = 0) {
  const out = execFileSync(process.execPath, [join(ROOT, 'bench/load.mjs')], {
    env: { ...process.env, PORT: String(port), CONNECTIONS: String(CONNECTIONS), DURATION: String(seconds), MEMBERS: '1', PREFIX: prefix, ACKED_FILE: join(dir, 'acked.json'), TIMEOUT: '2', ...(rate ? { RATE: String(rate) } : {}) },
    encoding: 'utf8',
  });
  return JSON.parse(out.trim().split('\n').pop());
}

const rssMiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

const a = await startInstance('a');
const b = await startInstance('b');
const one = await startHaproxy(a, a);
const two = await startHaproxy(a, b);
const rows = { direct: [], 'haproxy, 1 instance': [], 'haproxy, 2 instances': [], [`direct at ${RATE}/s`]: [], [`haproxy, 1 instance at ${RATE}/s`]: [] };
const targets = { direct: a.port, 'haproxy, 1 instance': one.port, 'haproxy, 2 instances': two.port };
const paced = { [`direct at ${RATE}/s`]: a.port, [`haproxy, 1 instance at ${RATE}/s`]: one.port };
// Warm every path first (JIT, HAProxy's connection pools): not counted.
for (const [name, port] of Object.entries(targets)) load(port, `warm${name.replace(/\W/g, '')}`, 2);
const load1 = loadavg()[0];
for (let r = 0; r < RUNS; r++) {
  for (const [name, port] of Object.entries(targets)) {
    const res = load(port, `r${r}${name.replace(/\W/g, '')}`);
    rows[name].push(res);
    console.error(`${name} run ${r + 1}: ${res.requestsPerSec.toFixed(0)} req/s, p50 ${res.p50} ms, p99 ${res.p99} ms, non-2xx ${res.non2xx}, errors ${res.errors}, timeouts ${res.timeouts}`);
  }
  for (const [name, port] of Object.entries(paced)) {
    const res = load(port, `p${r}${name.replace(/\W/g, '')}`, DURATION, RATE);
    rows[name].push(res);
    console.error(`${name} run ${r + 1}: ${res.requestsPerSec.toFixed(0)} req/s, p50 ${res.p50} ms, p99 ${res.p99} ms`);
  }
}
const summary = Object.fromEntries(
  Object.entries(rows).map(([name, rs]) => [name, { reqPerSec: Math.round(median(rs.map((x) => x.requestsPerSec))), p50: median(rs.map((x) => x.p50)), p99: median(rs.map((x) => x.p99)), non2xx: rs.reduce((s, x) => s + x.non2xx, 0), errors: rs.reduce((s, x) => s + x.errors, 0) }]),
);
const result = {
  date: new Date().toISOString(),
  cpus: cpus().length,
  loadAverageAtStart: Number(load1.toFixed(2)),
  durability: DURABILITY,
  connections: CONNECTIONS,
  durationS: DURATION,
  runs: RUNS,
  rows: summary,
  ratioTwoToOne: Number((summary['haproxy, 2 instances'].reqPerSec / summary['haproxy, 1 instance'].reqPerSec).toFixed(2)),
  addedLatencyMs: { rate: RATE, p50: summary[`haproxy, 1 instance at ${RATE}/s`].p50 - summary[`direct at ${RATE}/s`].p50, p99: summary[`haproxy, 1 instance at ${RATE}/s`].p99 - summary[`direct at ${RATE}/s`].p99 },
  haproxyRssMiB: Number(rssMiB(two.pid).toFixed(1)),
};
writeFileSync(join(ROOT, 'bench/haproxy-results.json'), JSON.stringify(result, null, 2) + '\n');
console.log('| target | req/s | p50 ms | p99 ms | non-2xx | errors |');
console.log('|---|---|---|---|---|---|');
for (const [name, s] of Object.entries(summary)) console.log(`| ${name} | ${s.reqPerSec} | ${s.p50} | ${s.p99} | ${s.non2xx} | ${s.errors} |`);
console.log(`two instances / one: ${result.ratioTwoToOne}; at ${RATE}/s HAProxy adds ${result.addedLatencyMs.p50} ms at p50, ${result.addedLatencyMs.p99} ms at p99; HAProxy RSS ${result.haproxyRssMiB} MiB; ${result.cpus} CPUs, load average ${result.loadAverageAtStart} at start`);
process.exit(0);
