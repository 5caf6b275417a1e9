// npm run bench: the service against a bare node:http baseline (bench/baseline.mjs), same load,
// same durability, same run. Server pinned to CPU 0 and load generator (bench/load.mjs,
// autocannon) to CPU 1 where `taskset` exists. Prints one table and writes bench/results.json.
//
// Env: DURATION (s per run, default 5), RUNS (repeats, median taken, default 3), SOAK (s of the
// soak at SOAK_RATE callbacks/s, default 60 and 2,000; 1200 for the 20-minute soak; 0 skips), ONLY (a substring of a row's name, or
// `peers`, `heap`, `dismissal`, `hostile`, `hold`, `holders` or `soak`), PEER_ROUNDS (rounds of the peers row, default 3), HEAP_ROUNDS (of the heap row, default 3), HOLD_S and HOLD_RATE (the hold row: seconds of full disk, callbacks a second), SERVICE_NODE_FLAGS (V8 flags for the service in place of the unit's, which every Node server gets), SERVICE_CONFIG (a
// config file for the service only), COMPARE_CONFIG (a second config: each row also runs the
// service with it, alternating, and reports its req/s and service/compare), DISMISSALS (100,000-member dismissals in the dismissal row, default 3).
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import http from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const DURATION = Number(process.env.DURATION ?? 5);
const RUNS = Number(process.env.RUNS ?? 3);
const SOAK = Number(process.env.SOAK ?? 60);
const ONLY = process.env.ONLY ?? '';
const ROOT = new URL('..', import.meta.url).pathname;
const HAS_TASKSET = (() => {
  try {
    execFileSync('taskset', ['-c', '0', 'true']);
    return true;
  } catch {
    return false;
  }
})();
const pinned = (cpu, args) => (HAS_TASKSET ? ['taskset', ['-c', String(cpu), process.execPath, ...args]] : [process.execPath, args]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Start the service or the baseline on CPU 0; resolves when it prints its `listening` line. */
/**
 * V8 flags: every Node.js server here (the service and its Node peers) runs with the NODE_OPTIONS
 * the systemd unit sets, so that each is measured with the heap the service ships with (issue #24);
 * SERVICE_NODE_FLAGS replaces them for the service alone. The load generator runs without.
 */
const UNIT_FLAGS = (/^Environment=NODE_OPTIONS=(.*)$/m.exec(readFileSync(new URL('../systemd/member-exit-audit.service', import.meta.url), 'utf8'))?.[1] ?? '').split(' ').filter(Boolean);
const SERVICE_FLAGS = process.env.SERVICE_NODE_FLAGS === undefined ? UNIT_FLAGS : process.env.SERVICE_NODE_FLAGS.split(' ').filter(Boolean);

function startServer(kind, durability, dir, extraArgs = kind === 'service' || kind === 'compare' ? SERVICE_FLAGS : UNIT_FLAGS) {
  const file = join(dir, 'audit', 'member-exit.ndjson');
  const script = join(ROOT, { service: 'dist/main.js', compare: 'dist/main.js', baseline: 'bench/baseline.mjs', koa: 'bench/koa-peer.mjs' }[kind]);
  const config = kind === 'compare' ? process.env.COMPARE_CONFIG : kind === 'service' ? process.env.SERVICE_CONFIG : undefined;
  const [cmd, args] = pinned(0, [...extraArgs, script]);
  const started = performance.now();
  const child = spawn(cmd, args, {
    env: {
      ...process.env,
      PORT: '0',
      ADMIN_PORT: '0',
      AUDIT_FILE: file,
      DURABILITY: durability,
      LOG_LEVEL: 'info',
      // A config file for the service alone (SERVICE_CONFIG), e.g. to measure a setting's cost.
      ...(config ? { MEMBER_EXIT_AUDIT_CONFIG: config } : {}),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
    cwd: dir,
  });
  const lines = [];
  // V8's --trace-gc-nvp lines, when the heap row asked for them: one per scavenge.
  const scavenges = [];
  const server = { child, file, lines, scavenges, started, port: 0, adminPort: 0 };
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      let rec;
      try {
        rec = JSON.parse(line);
      } catch {
        if (line.includes(' gc=s ')) scavenges.push(line);
        return;
      }
      lines.push(rec);
      if (rec.msg === 'admin listening') server.adminPort = rec.port;
      if (rec.msg === 'listening') server.port = rec.port;
      // The service's summary comes after both listeners are up; the peers say only `listening`.
      if (rec.msg === (kind === 'service' || kind === 'compare' ? 'started' : 'listening')) resolve(server);
    });
    child.once('exit', (code) => reject(new Error(`${kind} exited with ${code} before listening`)));
  });
}

function stopServer(server) {
  return new Promise((resolve) => {
    server.child.once('exit', resolve);
    server.child.kill('SIGTERM');
  });
}

/** Peak resident set (VmHWM) of a live process, in MB. */
function peakRssMb(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}
function rssMb(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function get(port, path) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

/** POST one body on a fresh connection; resolves with the status and the time to the answer's end. */
function postBody(port, path, body) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path, headers: { 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - t0 }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The load generator on CPU 1. */
function runLoad(port, connections, members, duration, dir, prefix = 'b', extraEnv = {}) {
  const ackedFile = join(dir, `acked-${prefix}.json`);
  const [cmd, args] = pinned(1, [join(ROOT, 'bench/load.mjs')]);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: { ...process.env, PORT: String(port), CONNECTIONS: String(connections), DURATION: String(duration), MEMBERS: String(members), PREFIX: prefix, ACKED_FILE: ackedFile, ...extraEnv },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`load generator exited ${code}`));
      // Acknowledged callbacks as `<prefix>-<k>`, the head their members' names start with.
      resolve({ ...JSON.parse(out.trim().split('\n').at(-1)), acked: JSON.parse(readFileSync(ackedFile, 'utf8')).map((k) => `${prefix}-${k}`) });
    });
  });
}

/**
 * The run checks its own output: every line is valid JSON of the contract's shape, every
 * acknowledged member is there exactly once, and the only other lines are those of callbacks
 * still in flight when the load stopped (at most one per connection).
 */
function checkOutput(file, acked, members, connections) {
  const seen = new Map();
  let lines = 0;
  const destroyed = new Set();
  let destroyedLines = 0;
  // Streamed in 4 MiB reads: a 100-member run writes more than a JavaScript string can hold.
  const fd = existsSync(file) ? openSync(file, 'r') : null;
  const buf = Buffer.alloc(4 << 20);
  let carry = '';
  for (let n; fd !== null && (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) {
    const parts = (carry + buf.toString('utf8', 0, n)).split('\n');
    carry = parts.pop();
    for (const line of parts) {
      const v = JSON.parse(line);
      if (v.event === 'seal') continue; // a seal line (audit.seal): no exit
      if (v.event !== 'group.member.exit' || !/^[0-9a-f]{32}$/.test(v.id)) throw new Error(`bad line ${line}`);
      if (v.exitType === 'Destroyed') {
        destroyed.add(v.member + ' ' + v.groupId);
        destroyedLines++;
        continue;
      }
      const k = v.member.split('-').slice(0, 2).join('-');
      seen.set(k, (seen.get(k) ?? 0) + 1);
      lines++;
    }
  }
  if (fd !== null) closeSync(fd);
  if (carry) throw new Error('torn last line');
  for (const k of acked) {
    if (seen.get(k) !== members) throw new Error(`callback ${k}: ${seen.get(k) ?? 0} lines, expected ${members}`);
  }
  const extra = lines - acked.length * members;
  if (extra < 0 || extra > connections * members) throw new Error(`${extra} lines beyond the acknowledged ones`);
  if (destroyed.size !== destroyedLines) throw new Error(`${destroyedLines - destroyed.size} dismissal lines doubled`);
  return { lines, extra, destroyedLines };
}

async function once(kind, durability, connections, members, duration = DURATION) {
  const dir = mkdtempSync(join(tmpdir(), `mea-bench-${kind}-`));
  try {
    const server = await startServer(kind, durability, dir);
    await sleep(200);
    const cpuBefore = cpuMsOf(server.child.pid);
    const load = await runLoad(server.port, connections, members, duration, dir);
    const cpuMs = cpuMsOf(server.child.pid) - cpuBefore;
    const peak = peakRssMb(server.child.pid);
    let perSync = null;
    const ours = kind === 'service' || kind === 'compare';
    if (ours && durability === 'fsync') {
      const m = await get(server.adminPort, '/metrics');
      const sum = Number(/^member_exit_audit_batch_callbacks_sum (\S+)$/m.exec(m)?.[1]);
      const count = Number(/^member_exit_audit_batch_callbacks_count (\S+)$/m.exec(m)?.[1]);
      perSync = count ? sum / count : null;
    }
    await stopServer(server);
    if (!ours && durability === 'fsync') {
      const stats = server.lines.find((l) => l.msg === 'stats');
      perSync = stats?.batches ? stats.callbacks / stats.batches : null;
    }
    const checked = checkOutput(server.file, load.acked, members, connections);
    return {
      reqPerSec: load.total2xx / load.durationS,
      linesPerSec: (load.total2xx * members) / load.durationS,
      p50: load.p50,
      p99: load.p99,
      p999: load.p999,
      non2xx: load.non2xx + load.errors + load.timeouts,
      peakRssMb: peak,
      // The server's CPU time (all its threads, user + system) per acknowledged callback: how
      // much work one costs, which the shared machine's swings in speed disturb less than req/s.
      cpuUsPerCallback: load.total2xx ? Math.round((cpuMs * 1000) / load.total2xx) : null,
      callbacksPerSync: perSync,
      lines: checked.lines,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function medianOf(runs) {
  const keys = Object.keys(runs[0]);
  return Object.fromEntries(keys.map((k) => [k, runs[0][k] === null ? null : median(runs.map((r) => r[k]))]));
}

/** Time from spawn to the first acknowledged callback. */
async function startupMs() {
  const times = [];
  for (let i = 0; i < 5; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'mea-bench-start-'));
    const t0 = performance.now();
    const server = await startServer('service', 'fsync', dir);
    const body = '{"CallbackCommand":"Group.CallbackAfterMemberExit","GroupId":"g","Type":"Public","ExitType":"Quit","Operator_Account":"u","ExitMemberList":[{"Member_Account":"u"}]}';
    const status = await new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: server.port, method: 'POST', path: '/?SdkAppid=1400000000&CallbackCommand=Group.CallbackAfterMemberExit' }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      });
      req.on('error', reject);
      req.end(body);
    });
    if (status !== 200) throw new Error(`first callback got ${status}`);
    times.push(performance.now() - t0);
    await stopServer(server);
    rmSync(dir, { recursive: true, force: true });
  }
  return { medianMs: median(times), runsMs: times.map(Math.round) };
}

/** CPU time (user + system, ms) a process has used: /proc/PID/stat, in clock ticks of 10 ms. */
function cpuMsOf(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}
/** The machine's CPU time by kind (ticks) from /proc/stat: whether the service lacked a core. */
function hostCpu() {
  const [user, nice, system, idle, iowait, irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return { busy: user + nice + system + irq + softirq, idle, iowait, steal };
}
/** Per-second shares of the machine's CPU (all cores, %) between two hostCpu() readings. */
function hostDelta(a, b) {
  const d = (k) => b[k] - a[k];
  const total = d('busy') + d('idle') + d('iowait') + d('steal') || 1;
  return { hostBusyPct: Math.round((100 * d('busy')) / total), iowaitPct: Math.round((100 * d('iowait')) / total), stealPct: Math.round((100 * d('steal')) / total) };
}

/**
 * The machine's speed, once a second: a fixed piece of arithmetic (~2 ms on this machine when it
 * runs at full speed) timed in CPU time, in a process on the server's core. This machine is a
 * shared virtual one whose CPU time for the same work swings by 2x and more while it reports no
 * steal: a slow second of the soak can then be told from a slow machine (issue #24's stall).
 */
const SPEED_PROBE = `const work = () => { let x = 0; for (let i = 0; i < 4e6; i++) x = (x * 31 + i) | 0; return x; };
let sink = 0; for (let i = 0; i < 50; i++) sink ^= work(); // optimized before it is timed
const t0 = Date.now();
setInterval(() => { const c = process.cpuUsage(); sink ^= work(); const d = process.cpuUsage(c); console.log(JSON.stringify({ second: Math.floor((Date.now() - t0) / 1000), us: d.user + d.system, sink: sink & 1 })); }, 1000);`;

function speedProbe() {
  const [cmd, args] = pinned(0, ['-e', SPEED_PROBE]);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const us = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    const r = JSON.parse(line);
    us[r.second] = r.us;
  });
  return { us, stop: () => new Promise((resolve) => (child.once('exit', resolve), child.kill('SIGTERM'))) };
}

/**
 * The soak (issue #24): SOAK seconds (60 by default; 1200 for the 20-minute soak) at a fixed
 * SOAK_RATE (2,000 callbacks/s) on 64 connections, fsync. Every second: the answers' p99 and max
 * and the non-2xx (from the load generator), the service's RSS, and from /metrics the slowest
 * write, fdatasync and request-to-answer inside the service (histogram buckets), the event loop's largest delay and the GC time. Reports
 * p99, max and non-2xx of the whole run, the RSS slope of its second half, and the five worst
 * seconds with what the service was doing in them (and the machine: the service's CPU time, the
 * host's busy, iowait and steal shares, the load average): where the time went when it stalls.
 */
async function soak() {
  const rate = Number(process.env.SOAK_RATE ?? 2000);
  const dir = mkdtempSync(join(tmpdir(), 'mea-bench-soak-'));
  try {
    const server = await startServer('service', 'fsync', dir);
    const probe = speedProbe();
    const samples = [];
    let prev = null;
    const read = async () => {
      const m = await get(server.adminPort, '/metrics');
      const num = (re) => Number(re.exec(m)?.[1] ?? 0);
      const buckets = (name) => [...m.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\S+)$`, 'gm'))].map((x) => [Number(x[1]), Number(x[2])]);
      return { at: Date.now(), cpuMs: cpuMsOf(server.child.pid), host: hostCpu(), load1: Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]), write: buckets('member_exit_audit_write_seconds'), fsync: buckets('member_exit_audit_fsync_seconds'), answer: buckets('member_exit_audit_callback_seconds'), lagMaxMs: num(/^nodejs_eventloop_lag_max_seconds (\S+)$/m) * 1000, gcSeconds: [...m.matchAll(/^nodejs_gc_duration_seconds_sum\{kind="\w+"\} (\S+)$/gm)].reduce((a, x) => a + Number(x[1]), 0) };
    };
    /** The smallest bucket bound the slowest operation of the interval fits under (ms), from two readings of a histogram. */
    const slowest = (a, b) => {
      for (let i = b.length - 1; i > 0; i--) if (b[i][1] - (a[i]?.[1] ?? 0) > b[i - 1][1] - (a[i - 1]?.[1] ?? 0)) return Number.isFinite(b[i][0]) ? b[i][0] * 1000 : `>${b[i - 1][0] * 1000}`;
      return b[0] ? b[0][0] * 1000 : null;
    };
    let sampling = true;
    const sampler = (async () => {
      prev = await read();
      while (sampling) {
        await sleep(1000);
        const cur = await read();
        samples.push({ rssMb: rssMb(server.child.pid), writeMaxMs: slowest(prev.write, cur.write), fsyncMaxMs: slowest(prev.fsync, cur.fsync), answerMaxMs: slowest(prev.answer, cur.answer), lagMaxMs: +cur.lagMaxMs.toFixed(1), gcMs: +((cur.gcSeconds - prev.gcSeconds) * 1000).toFixed(1), serviceCpuMs: cur.cpuMs - prev.cpuMs, ...hostDelta(prev.host, cur.host), load1: cur.load1 });
        prev = cur;
      }
    })();
    const secondsFile = join(dir, 'seconds.json');
    const load = await runLoad(server.port, 64, 1, SOAK, dir, 's', { RATE: String(rate), SECONDS_FILE: secondsFile });
    sampling = false;
    await sampler;
    await probe.stop();
    await stopServer(server);
    checkOutput(server.file, load.acked, 1, 64);
    const seconds = JSON.parse(readFileSync(secondsFile, 'utf8'));
    const rss = samples.map((x) => x.rssMb);
    const half = rss.slice(Math.floor(rss.length / 2));
    const n = half.length;
    const xm = (n - 1) / 2;
    const ym = half.reduce((a, b) => a + b, 0) / n;
    const slope = half.reduce((a, y, x) => a + (x - xm) * (y - ym), 0) / half.reduce((a, _, x) => a + (x - xm) ** 2, 0);
    const worst = [...seconds].sort((a, b) => (b.max ?? 0) - (a.max ?? 0)).slice(0, 5).map((w) => ({ ...w, service: samples[w.second] ?? null, probeUs: probe.us[w.second] ?? null }));
    const speed = probe.us.filter((x) => x !== undefined).sort((a, b) => a - b);
    return {
      seconds: SOAK,
      rate,
      requests: load.total2xx,
      non2xx: load.non2xx + load.errors + load.timeouts,
      p99: load.p99,
      max: load.max,
      rssMbFirst: +rss[0].toFixed(1),
      rssMbMax: +Math.max(...rss).toFixed(1),
      rssMbLast: +rss.at(-1).toFixed(1),
      secondHalfSlopeMbPerMin: +(slope * 60).toFixed(2),
      secondsOver100ms: seconds.filter((x) => x.max > 100).length,
      // The probe's CPU time for its fixed work: fastest, median, 99th percentile, slowest second.
      probeUs: speed.length ? { min: speed[0], median: speed[Math.floor(speed.length / 2)], p99: speed[Math.floor(speed.length * 0.99)], max: speed.at(-1) } : null,
      worst,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
async function loopLagMaxMs(adminPort) {
  const m = await get(adminPort, '/metrics');
  return Number(/^nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(m)?.[1]) * 1000;
}

/**
 * A dismissal of Tencent's largest group (100,000 members, ~3 MB, issue #10) while legitimate
 * member-exits arrive on 16 connections: first DURATION s without dismissals, then DURATION s with
 * DISMISSALS of them spread over the window. Reports the time to answer each, the latency the
 * other callbacks see in both windows, the largest event-loop stall, and memory.
 */
async function dismissal() {
  const COUNT = Number(process.env.DISMISSALS ?? 3);
  const dir = mkdtempSync(join(tmpdir(), 'mea-bench-dismissal-'));
  try {
    const server = await startServer('service', 'fsync', dir);
    await sleep(200);
    const quiet = await runLoad(server.port, 16, 1, DURATION, dir, 'q');
    const rssBefore = rssMb(server.child.pid);
    await loopLagMaxMs(server.adminPort);
    const answers = [];
    const sending = (async () => {
      for (let i = 0; i < COUNT; i++) {
        await sleep((DURATION * 1000) / (COUNT + 1));
        const members = Array.from({ length: 100000 }, (_, k) => ({ Member_Account: `member_${i}_${String(k).padStart(6, '0')}` }));
        const body = JSON.stringify({ CallbackCommand: 'Group.CallbackAfterGroupDestroyed', GroupId: `@TGS#_@TGS#BENCH${i}`, Type: 'Community', Owner_Account: 'owner', MemberList: members, EventTime: Date.now() });
        const r = await postBody(server.port, '/?SdkAppid=1400000000&CallbackCommand=Group.CallbackAfterGroupDestroyed', body);
        if (r.status !== 200) throw new Error(`dismissal answered ${r.status}`);
        answers.push({ ms: r.ms, bodyMB: body.length / 1e6 });
      }
    })();
    const busy = await runLoad(server.port, 16, 1, DURATION, dir);
    await sending;
    const lagMaxMs = await loopLagMaxMs(server.adminPort);
    const peak = peakRssMb(server.child.pid);
    await sleep(3000);
    const rssAfter = rssMb(server.child.pid);
    await stopServer(server);
    const checked = checkOutput(server.file, [...quiet.acked, ...busy.acked], 1, 32);
    if (checked.destroyedLines !== COUNT * 100000) throw new Error(`${checked.destroyedLines} dismissal lines, expected ${COUNT * 100000}`);
    return {
      dismissals: COUNT,
      bodyMB: +answers[0].bodyMB.toFixed(1),
      answerMs: answers.map((a) => Math.round(a.ms)),
      answerMsMedian: Math.round(median(answers.map((a) => a.ms))),
      others: {
        quiet: { reqPerSec: Math.round(quiet.total2xx / quiet.durationS), p50: quiet.p50, p99: quiet.p99, p999: quiet.p999, max: quiet.max ?? null },
        withDismissals: { reqPerSec: Math.round(busy.total2xx / busy.durationS), p50: busy.p50, p99: busy.p99, p999: busy.p999, max: busy.max ?? null },
      },
      eventLoopLagMaxMs: Math.round(lagMaxMs),
      rssMb: { before: +rssBefore.toFixed(1), peak: +peak.toFixed(1), after3s: +rssAfter.toFixed(1) },
      destroyedLines: checked.destroyedLines,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The costliest requests anyone can send (issue #12), on 4 connections, while legitimate
 * member-exits arrive on 16: two connections send the worst accepted callback (10,000 members of
 * 64-byte accounts under shared fields that escape to 6 bytes a character: ~22 MB of lines from an
 * 860 KB body, just inside the output bound), two the worst refused ones (all the checks, then
 * 413 OUTPUT_TOO_LARGE; a 10,000-member list whose last member is bad). Reports the legitimate
 * callbacks' latency without and with them, what the hostile ones got, the largest event-loop
 * stall, and memory (peak, and 3 s and 15 s after the attack). Target: legitimate p99 under 100 ms.
 */
async function hostile() {
  const dir = mkdtempSync(join(tmpdir(), 'mea-bench-hostile-'));
  try {
    const server = await startServer('service', 'fsync', dir);
    await sleep(200);
    const quiet = await runLoad(server.port, 16, 1, DURATION, dir, 'q');
    const ctl = (n) => '\u0001'.repeat(n);
    const base = { CallbackCommand: 'Group.CallbackAfterMemberExit', Type: ctl(32), ExitType: 'Kicked', Operator_Account: ctl(64) };
    const query = `/?SdkAppid=1400000000&CallbackCommand=Group.CallbackAfterMemberExit&ClientIP=${'%01'.repeat(64)}&OptPlatform=${'%01'.repeat(32)}`;
    // Built once: the senders must cost the load's CPU nothing but the sending.
    const accepted = JSON.stringify({ ...base, GroupId: ctl(120) + '00000001', ExitMemberList: Array.from({ length: 10000 }, (_, k) => ({ Member_Account: `${'a'.repeat(56)}${String(k).padStart(8, '0')}` })), EventTime: 1700000000000 });
    const tooBig = JSON.stringify({ ...base, GroupId: ctl(128), ExitMemberList: Array.from({ length: 10000 }, (_, k) => ({ Member_Account: `m${k}` })) });
    const badLast = JSON.stringify({ ...base, GroupId: 'g', ExitMemberList: Array.from({ length: 10000 }, (_, k) => ({ Member_Account: k === 9999 ? 7 : `${'a'.repeat(56)}${k}` })) });
    const got = { accepted: [], refused: [], other: [] };
    let stop = false;
    let n = 0;
    const attacker = async (kind) => {
      while (!stop) {
        // Each accepted one a new event (its own EventTime): a repeat would not be written again (audit.dedupWindowMs).
        const body = kind === 'accepted' ? accepted.replace('"EventTime":1700000000000', `"EventTime":${1700000000000 + n++}`) : n++ % 2 ? tooBig : badLast;
        const r = await postBody(server.port, query, body);
        (r.status === 200 ? got.accepted : r.status === 413 || r.status === 400 ? got.refused : got.other).push({ ms: r.ms, status: r.status, kb: body.length / 1024 });
      }
    };
    // The senders run in this process: keep it off the server's CPU, beside the load generator.
    if (HAS_TASKSET) execFileSync('taskset', ['-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
    await loopLagMaxMs(server.adminPort);
    const attackers = [attacker('accepted'), attacker('accepted'), attacker('refused'), attacker('refused')];
    const busy = await runLoad(server.port, 16, 1, DURATION, dir, 'b');
    stop = true;
    await Promise.all(attackers);
    const lagMaxMs = await loopLagMaxMs(server.adminPort);
    const peak = peakRssMb(server.child.pid);
    await sleep(3000);
    const rssAfter = rssMb(server.child.pid);
    // V8 frees the large callbacks' buffers at its next full GC, which an idle service runs later.
    await sleep(12000);
    const rssLater = rssMb(server.child.pid);
    await stopServer(server);
    const legit = [...quiet.acked, ...busy.acked];
    const seen = new Set();
    let hostileLines = 0;
    // Only the legitimate members are checked one by one; the hostile lines are counted.
    const fd = openSync(server.file, 'r');
    const buf = Buffer.alloc(4 << 20);
    let carry = '';
    for (let r; (r = readSync(fd, buf, 0, buf.length, null)) > 0; ) {
      const parts = (carry + buf.toString('utf8', 0, r)).split('\n');
      carry = parts.pop();
      for (const line of parts) {
        const m = /"member":"([qb]-\d+)-0"/.exec(line);
        if (m) seen.add(m[1]);
        else hostileLines++;
      }
    }
    closeSync(fd);
    const missing = legit.filter((k) => !seen.has(k)).length;
    if (missing) throw new Error(`${missing} acknowledged legitimate callbacks missing`);
    // A worst accepted callback answered 503 DEADLINE is written whole all the same (its slices were under way).
    const late = got.other.filter((x) => x.status === 503).length;
    if (hostileLines % 10000 || hostileLines < got.accepted.length * 10000 || hostileLines > (got.accepted.length + late) * 10000) {
      throw new Error(`${hostileLines} hostile lines for ${got.accepted.length} accepted callbacks (and ${late} answered 503)`);
    }
    const ms = (list) => (list.length ? Math.round(median(list.map((x) => x.ms))) : null);
    return {
      legit: {
        quiet: { reqPerSec: Math.round(quiet.total2xx / quiet.durationS), p50: quiet.p50, p99: quiet.p99, max: quiet.max, non2xx: quiet.non2xx },
        underAttack: { reqPerSec: Math.round(busy.total2xx / busy.durationS), p50: busy.p50, p99: busy.p99, max: busy.max, non2xx: busy.non2xx + busy.errors + busy.timeouts },
      },
      hostileAccepted: { count: got.accepted.length, bodyKB: Math.round(got.accepted[0]?.kb ?? 0), medianMs: ms(got.accepted), mbWritten: Math.round((hostileLines * 2300) / 1e6) },
      hostileRefused: { count: got.refused.length, medianMs: ms(got.refused) },
      otherReplies: got.other.length,
      eventLoopLagMaxMs: Math.round(lagMaxMs),
      rssMb: { peak: +peak.toFixed(1), after3s: +rssAfter.toFixed(1), after15s: +rssLater.toFixed(1) },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * What holding costs (issue #19): the disk full for HOLD_S (30) seconds while callbacks arrive at
 * HOLD_RATE (1,000) a second from a client that, like Tencent's, gives up after 2 s and opens a
 * new connection. Sampled every second: the service's open sockets, RSS, queued bytes and waiting
 * callbacks; then, once the disk is back, how long the backlog takes to reach the disk. Needs a
 * tmpfs (root); skipped otherwise.
 */
async function holding() {
  const seconds = Number(process.env.HOLD_S ?? 30);
  const rate = Number(process.env.HOLD_RATE ?? 1000);
  const dir = mkdtempSync(join(tmpdir(), 'mea-bench-hold-'));
  const mnt = join(dir, 'audit');
  const { mkdirSync, unlinkSync } = await import('node:fs');
  mkdirSync(mnt);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512m', 'tmpfs', mnt], { stdio: 'pipe' });
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return { skipped: 'cannot mount a tmpfs (not root)' };
  }
  try {
    const server = await startServer('service', 'fsync', dir);
    const pid = server.child.pid;
    const { readdirSync, readlinkSync } = await import('node:fs');
    const sockets = () => {
      let n = 0;
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        try {
          if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) n++;
        } catch {
          // closed meanwhile
        }
      }
      return n;
    };
    const metric = async (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(await get(server.adminPort, '/metrics'))?.[1] ?? NaN);
    const samples = [];
    let phase = 'before';
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        samples.push({ phase, sockets: sockets(), rssMb: rssMb(pid), queueBytes: await metric('member_exit_audit_queue_bytes'), waiting: await metric('member_exit_audit_waiting_callbacks') });
        await sleep(1000);
      }
    })();
    const total = seconds + 15;
    const load = runLoad(server.port, Math.ceil(rate * 2.5), 1, total, dir, 'h', { RATE: String(rate), TIMEOUT: '2' });
    await sleep(5000);
    const filler = join(mnt, 'filler');
    // To the last KiB: append 1 MiB at a time until the disk is full, then 1 KiB at a time.
    const fd = (await import('node:fs')).openSync(filler, 'a');
    for (const chunk of [Buffer.alloc(1 << 20), Buffer.alloc(1024)]) {
      try {
        for (;;) (await import('node:fs')).writeSync(fd, chunk);
      } catch {
        // ENOSPC: on to the smaller chunk
      }
    }
    (await import('node:fs')).closeSync(fd);
    phase = 'full';
    process.stderr.write(`hold: disk full at ${JSON.stringify(samples.at(-1))}\n`);
    await sleep(seconds * 1000);
    unlinkSync(filler);
    phase = 'after';
    const back = performance.now();
    let drainMs = null;
    while (drainMs === null && performance.now() - back < 60000) {
      if ((await metric('member_exit_audit_queue_bytes')) === 0) drainMs = Math.round(performance.now() - back);
      else await sleep(20);
    }
    process.stderr.write(`hold: backlog on disk after ${drainMs} ms; waiting for the load to end\n`);
    const result = await load;
    sampling = false;
    await sampler;
    await stopServer(server);
    const full = samples.filter((x) => x.phase === 'full');
    const max = (k) => Math.max(...full.map((x) => x[k]));
    return {
      seconds,
      rate,
      reqPerSec: Math.round(result.requestsPerSec),
      timeouts: result.timeouts,
      heldSocketsMax: max('sockets'),
      waitingMax: max('waiting'),
      queueMBMax: +(max('queueBytes') / 1e6).toFixed(1),
      rssMbBefore: +Math.max(...samples.filter((x) => x.phase === 'before').map((x) => x.rssMb)).toFixed(1),
      rssMbMax: +max('rssMb').toFixed(1),
      backlogDrainMs: drainMs,
    };
  } finally {
    try {
      execFileSync('umount', ['-l', mnt]);
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Connections held by others (issue #23): 4,096 idle connections from one address (each sent one
 * unauthenticated GET, answered 405) and 1,000 from ten more addresses, then legitimate callbacks
 * on 16 connections from 127.0.0.1. Reports their p99 against the same load with nobody holding,
 * and what the listener closed. Target: legitimate p99 under 100 ms.
 */
async function holders() {
  const dir = mkdtempSync(join(tmpdir(), 'mea-bench-holders-'));
  const net = await import('node:net');
  const held = [];
  try {
    const server = await startServer('service', 'fsync', dir);
    await sleep(200);
    const quiet = await runLoad(server.port, 16, 1, DURATION, dir, 'q');
    const hold = (from) =>
      new Promise((resolve) => {
        const s = net.connect({ port: server.port, host: '127.0.0.1', localAddress: from }, () => s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
        s.on('error', () => resolve(null));
        s.once('data', () => resolve(s));
        s.on('close', () => resolve(null));
        held.push(s);
      });
    // In waves, so that the bench's own connecting is not what is measured.
    for (let i = 0; i < 4096; i += 256) await Promise.all(Array.from({ length: 256 }, () => hold('127.0.0.2')));
    for (let k = 0; k < 10; k++) await Promise.all(Array.from({ length: 100 }, () => hold(`127.0.0.${10 + k}`)));
    await sleep(500);
    const open = held.filter((s) => !s.destroyed).length;
    const busy = await runLoad(server.port, 16, 1, DURATION, dir, 'b');
    const metrics = await get(server.adminPort, '/metrics');
    const closed = Object.fromEntries([...metrics.matchAll(/^member_exit_audit_connections_closed_total\{reason="(\w+)"\} (\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
    for (const s of held) s.destroy();
    await stopServer(server);
    const legit = [...quiet.acked, ...busy.acked];
    checkOutput(server.file, legit, 1, 32);
    return {
      holders: { tried: held.length, stillOpen: open },
      quiet: { reqPerSec: Math.round(quiet.total2xx / quiet.durationS), p50: quiet.p50, p99: quiet.p99, max: quiet.max },
      held: { reqPerSec: Math.round(busy.total2xx / busy.durationS), p50: busy.p50, p99: busy.p99, max: busy.max, non2xx: busy.non2xx + busy.errors + busy.timeouts },
      closed,
    };
  } finally {
    for (const s of held) s.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * nginx as a peer (issue #24), when it is installed: one worker, the request body logged as JSON
 * (proxied to a second server block that answers OK, so that nginx reads the body). It promises
 * nothing: it answers before the line is written, and never syncs.
 */
async function nginxPeer(connections, duration) {
  const nginx = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));
  if (!nginx) return null;
  const dir = mkdtempSync(join(tmpdir(), 'mea-bench-nginx-'));
  const { writeFileSync, mkdirSync } = await import('node:fs');
  const free = () => new Promise((resolve) => { const s = http.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); }); });
  const [front, back] = [await free(), await free()];
  mkdirSync(join(dir, 'audit'));
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes 1; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/error.log warn;\n` +
      `events { worker_connections 4096; }\n` +
      `http { access_log off; client_body_buffer_size 64k; client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/f; uwsgi_temp_path ${dir}/u; scgi_temp_path ${dir}/s;\n` +
      `  log_format body escape=json '$request_body';\n` +
      `  upstream ok { server 127.0.0.1:${back}; keepalive 64; }\n` +
      `  server { listen 127.0.0.1:${front}; location / { access_log ${dir}/audit/member-exit.ndjson body; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_pass http://ok; } }\n` +
      `  server { listen 127.0.0.1:${back}; location / { return 200 '{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}'; } }\n}\n`,
  );
  const [cmd, args] = HAS_TASKSET ? ['taskset', ['-c', '0', nginx, '-c', conf, '-p', dir]] : [nginx, ['-c', conf, '-p', dir]];
  const child = spawn(cmd, args, { stdio: 'ignore' });
  try {
    await sleep(500);
    const load = await runLoad(front, connections, 1, duration, dir);
    const rss = Number(/VmHWM:\s+(\d+)/.exec(execFileSync('sh', ['-c', `cat /proc/$(pgrep -f "nginx: worker" | head -1)/status`]).toString())?.[1] ?? NaN) / 1024;
    return { reqPerSec: load.total2xx / load.durationS, p50: load.p50, p99: load.p99, non2xx: load.non2xx + load.errors + load.timeouts, peakRssMb: rss };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A number from a --trace-gc-nvp line (`name=value`). */
const nvp = (line, name) => Number(new RegExp(` ${name}=([0-9.]+)`).exec(line)?.[1] ?? NaN);

/**
 * What a callback costs the heap (issue #24), for the service and its two Node peers at 64
 * connections, fsync, 1 member: V8's own account of every scavenge during the load
 * (--trace-gc-nvp): bytes allocated and bytes promoted to old space per acknowledged callback,
 * and the scavenges' median pause. Unlike req/s, these hardly move with the shared machine's
 * speed. In HEAP_ROUNDS (3) rounds; medians.
 */
async function heap() {
  const rounds = Number(process.env.HEAP_ROUNDS ?? 3);
  const runs = { service: [], baseline: [], koa: [] };
  for (let i = 0; i < rounds; i++) {
    for (const kind of Object.keys(runs)) {
      const dir = mkdtempSync(join(tmpdir(), `mea-bench-heap-${kind}-`));
      try {
        const server = await startServer(kind, 'fsync', dir, [...(kind === 'service' ? SERVICE_FLAGS : UNIT_FLAGS), '--trace-gc-nvp']);
        await sleep(200);
        const from = server.scavenges.length;
        const load = await runLoad(server.port, 64, 1, DURATION, dir);
        const during = server.scavenges.slice(from);
        await stopServer(server);
        const sum = (name) => during.reduce((n, l) => n + nvp(l, name), 0);
        runs[kind].push({
          allocatedBytesPerCallback: Math.round(sum('allocated') / load.total2xx),
          promotedBytesPerCallback: Math.round(sum('promoted') / load.total2xx),
          scavengePauseMs: median(during.map((l) => nvp(l, 'pause'))),
          scavengesPer1000: +((1000 * during.length) / load.total2xx).toFixed(2),
        });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  return { rounds, ...Object.fromEntries(Object.entries(runs).map(([kind, r]) => [kind, medianOf(r)])) };
}

/**
 * The peers side by side (issue #24), at 64 connections, fsync, 1 member, in PEER_ROUNDS (3)
 * interleaved rounds: the service, the bare baseline, a minimal Koa app doing the same job, and
 * nginx logging the body when it is installed. Ratios are paired per round, then the median taken.
 */
async function peers() {
  const rounds = Number(process.env.PEER_ROUNDS ?? 3);
  const runs = [];
  for (let i = 0; i < rounds; i++) {
    const round = {};
    for (const kind of ['service', 'baseline', 'koa']) round[kind] = await once(kind, 'fsync', 64, 1);
    // The RSS target is at 256 connections: the same three there, for their peak RSS.
    for (const kind of ['service', 'baseline', 'koa']) round[`${kind}256`] = await once(kind, 'fsync', 256, 1);
    round.nginx = await nginxPeer(64, DURATION);
    round.load = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
    runs.push(round);
    process.stderr.write(`peers round ${i + 1}: service ${Math.round(round.service.reqPerSec)}, bare ${Math.round(round.baseline.reqPerSec)}, koa ${Math.round(round.koa.reqPerSec)}${round.nginx ? `, nginx ${Math.round(round.nginx.reqPerSec)}` : ''} req/s (load ${round.load})\n`);
  }
  const of = (kind, k) => (runs[0][kind]?.[k] != null ? +median(runs.map((r) => r[kind][k])).toFixed(1) : null);
  const row = (kind) => (runs[0][kind] ? { reqPerSec: Math.round(of(kind, 'reqPerSec')), p50: of(kind, 'p50'), p99: of(kind, 'p99'), peakRssMb: of(kind, 'peakRssMb'), cpuUsPerCallback: of(kind, 'cpuUsPerCallback') } : null);
  const ratio = (a, b) => +median(runs.map((r) => r[a].reqPerSec / r[b].reqPerSec)).toFixed(2);
  // The same comparison in CPU time per callback (b's over a's: above 1, a costs less).
  const cpuRatio = (a, b) => +median(runs.map((r) => r[b].cpuUsPerCallback / r[a].cpuUsPerCallback)).toFixed(2);
  return {
    rounds,
    loadAvg: runs.map((r) => r.load),
    service: row('service'),
    baseline: row('baseline'),
    koa: row('koa'),
    nginx: row('nginx'),
    peakRssMbAt256: { service: of('service256', 'peakRssMb'), baseline: of('baseline256', 'peakRssMb'), koa: of('koa256', 'peakRssMb') },
    serviceOverBaseline: ratio('service', 'baseline'),
    serviceOverKoa: ratio('service', 'koa'),
    cpuServiceOverBaseline: cpuRatio('service', 'baseline'),
    cpuServiceOverKoa: cpuRatio('service', 'koa'),
    roundsReqPerSec: runs.map((r) => ({ service: Math.round(r.service.reqPerSec), baseline: Math.round(r.baseline.reqPerSec), koa: Math.round(r.koa.reqPerSec), nginx: r.nginx ? Math.round(r.nginx.reqPerSec) : null })),
    roundsCpuUsPerCallback: runs.map((r) => ({ service: r.service.cpuUsPerCallback, baseline: r.baseline.cpuUsPerCallback, koa: r.koa.cpuUsPerCallback })),
  };
}

const rows = [];
for (const durability of ['write', 'fsync']) {
  for (const connections of [1, 16, 64, 256]) rows.push({ durability, connections, members: 1 });
  for (const members of [10, 100]) rows.push({ durability, connections: 64, members });
}

const results = [];
for (const row of rows) {
  const name = `${row.durability} c=${row.connections} m=${row.members}`;
  if (ONLY && !name.includes(ONLY)) continue;
  const service = [];
  const baseline = [];
  const compare = [];
  for (let i = 0; i < RUNS; i++) {
    // Alternate, so drift on a shared machine hits both alike.
    service.push(await once('service', row.durability, row.connections, row.members));
    if (process.env.COMPARE_CONFIG) compare.push(await once('compare', row.durability, row.connections, row.members));
    baseline.push(await once('baseline', row.durability, row.connections, row.members));
  }
  const s = medianOf(service);
  const b = medianOf(baseline);
  const r = { ...row, service: s, baseline: b, ratio: +(s.reqPerSec / b.reqPerSec).toFixed(2), serviceRuns: service.map((x) => Math.round(x.reqPerSec)), baselineRuns: baseline.map((x) => Math.round(x.reqPerSec)) };
  if (compare.length) Object.assign(r, { compare: medianOf(compare), compareRuns: compare.map((x) => Math.round(x.reqPerSec)) }, { compareRatio: +(s.reqPerSec / medianOf(compare).reqPerSec).toFixed(2) });
  results.push(r);
  process.stderr.write(`${name}: service ${Math.round(s.reqPerSec)} req/s (p99 ${s.p99})${r.compare ? `, compare ${Math.round(r.compare.reqPerSec)} req/s (p99 ${r.compare.p99}), service/compare ${r.compareRatio} (runs ${r.serviceRuns.join(', ')} against ${r.compareRuns.join(', ')})` : ''}, baseline ${Math.round(b.reqPerSec)} req/s, ratio ${r.ratio}\n`);
}

const dismissals = !ONLY || 'dismissal'.includes(ONLY) ? await dismissal() : null;
const attack = !ONLY || 'hostile'.includes(ONLY) ? await hostile() : null;
const peerRows = !ONLY || ONLY === 'peers' ? await peers() : null;
const heapRows = !ONLY || ONLY === 'heap' ? await heap() : null;
const hold = !ONLY || ONLY === 'hold' ? await holding() : null;
const holding4096 = !ONLY || ONLY === 'holders' ? await holders() : null;
if (attack) process.stderr.write(`hostile: ${JSON.stringify(attack)}\n`);
if (dismissals) process.stderr.write(`dismissal: ${JSON.stringify(dismissals)}\n`);
const startup = ONLY ? null : await startupMs();
const memory = (ONLY && ONLY !== 'soak') || !SOAK ? null : await soak();

const f = (x, d = 0) => (x === null || x === undefined || Number.isNaN(x) ? '-' : x.toFixed(d));
const header = '| durability | conns | members | service req/s | lines/s | p50 ms | p99 ms | p99.9 ms | non-2xx | peak RSS MB | CPU us a callback | callbacks/fsync | baseline req/s | baseline p99 ms | baseline CPU us | service/baseline |';
const table = [header, header.replace(/[^|]/g, '-').replace(/-+/g, '---')]
  .concat(results.map((r) => `| ${r.durability} | ${r.connections} | ${r.members} | ${f(r.service.reqPerSec)} | ${f(r.service.linesPerSec)} | ${f(r.service.p50, 1)} | ${f(r.service.p99, 1)} | ${f(r.service.p999, 1)} | ${f(r.service.non2xx)} | ${f(r.service.peakRssMb, 1)} | ${f(r.service.cpuUsPerCallback)} | ${f(r.service.callbacksPerSync, 1)} | ${f(r.baseline.reqPerSec)} | ${f(r.baseline.p99, 1)} | ${f(r.baseline.cpuUsPerCallback)} | ${r.ratio.toFixed(2)} |`))
  .join('\n');

const find = (d, c, m) => results.find((r) => r.durability === d && r.connections === c && r.members === m);
const targets = [];
const check = (what, ok, value) => targets.push({ what, ok, value });
// Issue #24's targets: against the minimal Koa app doing the same job, and the bare baseline.
if (peerRows) check('service >= 1.10 x a minimal Koa app doing the same job (64 connections, fsync, peers row)', peerRows.serviceOverKoa >= 1.1, peerRows.serviceOverKoa);
if (peerRows) check('service >= 0.70 x the bare baseline (64 connections, fsync, peers row)', peerRows.serviceOverBaseline >= 0.7, peerRows.serviceOverBaseline);
{
  const r = find('fsync', 64, 1);
  if (r) check('throughput at 64 connections (fsync) >= 0.70 x baseline', r.ratio >= 0.7, r.ratio);
}
const f64 = find('fsync', 64, 1);
if (f64) check('p99 at 64 connections, fsync <= 15 ms', f64.service.p99 <= 15, f64.service.p99);
const f1 = find('fsync', 1, 1);
if (f1) check('p99 at 1 connection, fsync <= 2 ms', f1.service.p99 <= 2, f1.service.p99);
for (const d of ['write', 'fsync']) {
  const r = find(d, 256, 1);
  if (r) check(`peak RSS at 256 connections (${d}) <= 120 MB`, r.service.peakRssMb <= 120, +r.service.peakRssMb.toFixed(1));
}
for (const d of ['write', 'fsync']) {
  const one = find(d, 64, 1);
  const hundred = find(d, 64, 100);
  if (one && hundred) check(`lines/s at 100 members >= 20 x lines/s at 1 member (${d}, 64 connections)`, hundred.service.linesPerSec >= 20 * one.service.linesPerSec, +(hundred.service.linesPerSec / one.service.linesPerSec).toFixed(1));
}
if (dismissals) {
  check('a 100,000-member dismissal answered well inside 2 s (< 1000 ms, median)', dismissals.answerMsMedian < 1000, dismissals.answerMsMedian);
  check('other callbacks keep p99 < 100 ms while dismissals are written', dismissals.others.withDismissals.p99 < 100, dismissals.others.withDismissals.p99);
}
if (attack) check('legitimate p99 < 100 ms while 4 connections send the worst accepted and refused requests', attack.legit.underAttack.p99 < 100, attack.legit.underAttack.p99);
if (startup) check('start to first accepted callback < 500 ms', startup.medianMs < 500, Math.round(startup.medianMs));
if (memory) check('memory flat over the soak (no growth: second-half RSS slope < +1 MB/min)', memory.secondHalfSlopeMbPerMin < 1, memory.secondHalfSlopeMbPerMin);

const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}, ${HAS_TASKSET ? 'server on CPU 0, load on CPU 1 (taskset)' : 'no taskset: unpinned'}`;
if (process.env.COMPARE_CONFIG) {
  // The service under two configs in one sitting: written apart, since ONLY runs leave results.json be.
  const read = (f) => (f ? JSON.parse(readFileSync(f, 'utf8')) : null);
  const rows = results.map(({ durability, connections, members, service, compare, compareRatio, serviceRuns, compareRuns }) => ({ durability, connections, members, serviceReqPerSec: Math.round(service.reqPerSec), serviceP99: service.p99, compareReqPerSec: Math.round(compare.reqPerSec), compareP99: compare.p99, compareRatio, serviceRuns, compareRuns }));
  (await import('node:fs')).writeFileSync(new URL('./compare-results.json', import.meta.url), JSON.stringify({ date: new Date().toISOString(), durationS: DURATION, runs: RUNS, serviceConfig: read(process.env.SERVICE_CONFIG), compareConfig: read(process.env.COMPARE_CONFIG), rows }, null, 2) + '\n');
}
const out = { date: new Date().toISOString(), machine, serviceNodeFlags: SERVICE_FLAGS.join(" "), durationS: DURATION, runs: RUNS, results, peers: peerRows, heap: heapRows, dismissals, hostile: attack, hold, holders: holding4096, startup, memory, targets };
if (!ONLY) (await import('node:fs')).writeFileSync(new URL('./results.json', import.meta.url), JSON.stringify(out, null, 2) + '\n');
console.log(`\nmember-exit-audit benchmark: ${machine}; ${DURATION} s per run, median of ${RUNS} runs; service flags: ${SERVICE_FLAGS.join(" ") || "none"}\n`);
console.log(table);
if (dismissals) {
  const o = dismissals.others;
  console.log(`\n100,000-member dismissal (${dismissals.bodyMB} MB): answered in ${dismissals.answerMs.join(', ')} ms (median ${dismissals.answerMsMedian}); other callbacks on 16 connections p99 ${o.quiet.p99} ms quiet, ${o.withDismissals.p99} ms with dismissals (max ${o.quiet.max} / ${o.withDismissals.max} ms); event-loop stall max ${dismissals.eventLoopLagMaxMs} ms; RSS ${dismissals.rssMb.before} -> peak ${dismissals.rssMb.peak} -> ${dismissals.rssMb.after3s} MB`);
}
if (attack) {
  const l = attack.legit;
  console.log(`hostile: legitimate p99 ${l.quiet.p99} ms quiet, ${l.underAttack.p99} ms under attack (max ${l.quiet.max} / ${l.underAttack.max} ms, ${l.quiet.reqPerSec} / ${l.underAttack.reqPerSec} req/s); ${attack.hostileAccepted.count} worst accepted (${attack.hostileAccepted.bodyKB} KB bodies, median ${attack.hostileAccepted.medianMs} ms), ${attack.hostileRefused.count} worst refused (median ${attack.hostileRefused.medianMs} ms); event-loop stall max ${attack.eventLoopLagMaxMs} ms; RSS peak ${attack.rssMb.peak} -> ${attack.rssMb.after3s} MB after 3 s -> ${attack.rssMb.after15s} MB after 15 s`);
}
if (hold?.skipped) console.log(`\nholding: skipped (${hold.skipped})`);
else if (hold) console.log(`\nholding: the disk full for ${hold.seconds} s at ${hold.rate} callbacks/s (2 s client timeout): up to ${hold.heldSocketsMax} sockets and ${hold.waitingMax} callbacks held, ${hold.queueMBMax} MB queued, RSS ${hold.rssMbBefore} -> ${hold.rssMbMax} MB; the backlog on disk ${hold.backlogDrainMs} ms after the disk was back; ${hold.timeouts} client timeouts`);
if (peerRows) {
  const p = peerRows;
  const line = (name, r, promise) => (r ? `  ${name.padEnd(34)} ${String(r.reqPerSec).padStart(7)} req/s  p99 ${String(r.p99).padStart(5)} ms  peak RSS ${String(r.peakRssMb).padStart(6)} MB  ${r.cpuUsPerCallback ? `${String(r.cpuUsPerCallback).padStart(4)} us CPU a callback  ` : ''}${promise}` : `  ${name}: not installed`);
  console.log(`\npeers at 64 connections, 1 member, ${p.rounds} interleaved rounds (load ${p.loadAvg.join(', ')}):`);
  console.log(line('member-exit-audit (fsync)', p.service, 'on disk when it answers'));
  console.log(line('bare node:http, same job (fsync)', p.baseline, 'on disk when it answers'));
  console.log(line('minimal Koa, same job (fsync)', p.koa, 'on disk when it answers'));
  console.log(line('nginx, body logged, 1 worker', p.nginx, 'nothing: logs after answering, never syncs'));
  console.log(`  service / bare ${p.serviceOverBaseline}; service / minimal Koa ${p.serviceOverKoa} (req/s, paired per round, median)`);
  console.log(`  in CPU time a callback: bare / service ${p.cpuServiceOverBaseline}; minimal Koa / service ${p.cpuServiceOverKoa} (above 1: the service costs less)`);
  console.log(`  peak RSS at 256 connections (fsync): service ${p.peakRssMbAt256.service} MB, bare ${p.peakRssMbAt256.baseline} MB, minimal Koa ${p.peakRssMbAt256.koa} MB`);
}
if (heapRows) {
  console.log(`\nheap at 64 connections, 1 member, fsync (--trace-gc-nvp, medians of ${heapRows.rounds} rounds):`);
  for (const [name, kind] of [['member-exit-audit', 'service'], ['bare node:http', 'baseline'], ['minimal Koa', 'koa']]) {
    const h = heapRows[kind];
    console.log(`  ${name.padEnd(20)} ${String(h.allocatedBytesPerCallback).padStart(6)} bytes allocated a callback, ${String(h.promotedBytesPerCallback).padStart(4)} promoted; ${h.scavengesPer1000} scavenges a 1,000 callbacks, median pause ${h.scavengePauseMs} ms`);
  }
}
if (holding4096) console.log(`\nheld connections: ${holding4096.holders.tried} opened by others (${holding4096.holders.stillOpen} still open when the load began); legitimate p99 ${holding4096.quiet.p99} ms alone, ${holding4096.held.p99} ms beside them (${holding4096.quiet.reqPerSec} / ${holding4096.held.reqPerSec} req/s, ${holding4096.held.non2xx} not 2xx); closed by the listener ${JSON.stringify(holding4096.closed)}`);
if (startup) console.log(`\nstart to first accepted callback: median ${Math.round(startup.medianMs)} ms (${startup.runsMs.join(', ')})`);
if (memory) {
  console.log(`soak: ${memory.seconds} s at ${memory.rate} callbacks/s on 64 connections (fsync): p99 ${memory.p99} ms, max ${memory.max} ms, ${memory.non2xx} not 2xx of ${memory.requests}; RSS ${memory.rssMbFirst} -> max ${memory.rssMbMax} -> ${memory.rssMbLast} MB, second-half slope ${memory.secondHalfSlopeMbPerMin} MB/min; ${memory.secondsOver100ms} seconds with an answer over 100 ms`);
  if (memory.probeUs) console.log(`  the machine's speed (CPU time of a fixed piece of work on the server's core, once a second): ${memory.probeUs.min} us at fastest, median ${memory.probeUs.median}, p99 ${memory.probeUs.p99}, slowest ${memory.probeUs.max}`);
  for (const w of memory.worst) console.log(`  second ${w.second}: probe ${w.probeUs ?? '-'} us; max ${w.max} ms, p99 ${w.p99} ms, ${w.answers} answers, ${w.non2xx} not 2xx; load generator: event-loop delay max ${w.loadLagMaxMs} ms, GC ${w.loadGcMs} ms; service: slowest write <= ${w.service?.writeMaxMs} ms, slowest fdatasync <= ${w.service?.fsyncMaxMs} ms, slowest request to answer inside it <= ${w.service?.answerMaxMs} ms, event-loop delay max ${w.service?.lagMaxMs} ms, GC ${w.service?.gcMs} ms, CPU ${w.service?.serviceCpuMs} ms; machine: busy ${w.service?.hostBusyPct}%, iowait ${w.service?.iowaitPct}%, steal ${w.service?.stealPct}%, load ${w.service?.load1}`);
}
console.log('\ntargets:');
for (const tgt of targets) console.log(`  ${tgt.ok ? 'met ' : 'MISS'}  ${tgt.what}: ${tgt.value}`);
