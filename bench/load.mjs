// The load generator (a separate process, pinned to its own CPU by bench/run.mjs): autocannon
// with distinct callbacks: groups, members and EventTimes all vary; MEMBERS per callback.
// Prints one JSON result; writes the numbers of the acknowledged callbacks to ACKED_FILE.
import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import autocannon from 'autocannon';

// RATE: callbacks a second over all connections (autocannon's overallRate; default: as fast as
// answered). TIMEOUT: seconds before a request is given up, as Tencent does after 2 s.
const { PORT, CONNECTIONS, DURATION, MEMBERS, PREFIX, ACKED_FILE, RATE, TIMEOUT } = process.env;
const members = Number(MEMBERS);
const query = '/?SdkAppid=1400000000&CallbackCommand=Group.CallbackAfterMemberExit&contenttype=json&ClientIP=10.0.0.7&OptPlatform=Android';
let n = 0;
const acked = [];

function body(k) {
  let list = '';
  for (let i = 0; i < members; i++) list += `${i ? ',' : ''}{"Member_Account":"${PREFIX}-${k}-${i}"}`;
  return `{"CallbackCommand":"Group.CallbackAfterMemberExit","GroupId":"@TGS#${k % 997}","Type":"Public","ExitType":"${k % 3 ? 'Quit' : 'Kicked'}","Operator_Account":"${k % 3 ? `${PREFIX}-${k}-0` : 'admin'}","ExitMemberList":[${list}],"EventTime":${1700000000000 + k}}`;
}

// SECONDS_FILE: per second of the run, how many answers, how many not 2xx, their p99 and max (ms),
// and this generator's own event-loop delay and GC time in that second: an answer is timed here,
// so a pause of the generator looks like a slow answer (issue #24's soak stall).
const perSecond = new Map();
const t0 = Date.now();
const secondOf = () => Math.floor((Date.now() - t0) / 1000);
const own = { lag: monitorEventLoopDelay({ resolution: 5 }), gcMs: 0 };
if (process.env.SECONDS_FILE) {
  own.lag.enable();
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) own.gcMs += e.duration;
  }).observe({ entryTypes: ['gc'] });
}
/** A second's answers, summed up as soon as it is over (keeping every time of a 20-minute soak made this process pause for GC). */
const rows = [];
let current = null;
function closeSecond() {
  if (!current) return;
  const { second, times, non2xx } = current;
  times.sort((a, b) => a - b);
  rows.push({ second, answers: times.length, non2xx, p99: times[Math.floor(times.length * 0.99)] ?? null, max: times.at(-1) ?? null, loadLagMaxMs: +(own.lag.max / 1e6).toFixed(1), loadGcMs: +own.gcMs.toFixed(1) });
  own.lag.reset();
  own.gcMs = 0;
  current = null;
}
const instance = autocannon({
  url: `http://127.0.0.1:${PORT}`,
  connections: Number(CONNECTIONS),
  duration: Number(DURATION),
  ...(RATE ? { overallRate: Number(RATE) } : {}),
  ...(TIMEOUT ? { timeout: Number(TIMEOUT) } : {}),
  requests: [
    {
      method: 'POST',
      path: query,
      setupRequest: (req, context) => {
        context.k = n++;
        return { ...req, body: body(context.k) };
      },
      onResponse: (status, _body, context) => {
        if (status >= 200 && status < 300) acked.push(context.k);
      },
    },
  ],
});
if (process.env.SECONDS_FILE) {
  instance.on('response', (_client, status, _bytes, ms) => {
    const k = secondOf();
    if (current && current.second !== k) closeSecond();
    current ??= { second: k, times: [], non2xx: 0 };
    current.times.push(ms);
    if (status < 200 || status > 299) current.non2xx++;
  });
}
const result = await instance;
if (process.env.SECONDS_FILE) {
  closeSecond();
  writeFileSync(process.env.SECONDS_FILE, JSON.stringify(rows));
}
writeFileSync(ACKED_FILE, JSON.stringify(acked));
console.log(
  JSON.stringify({
    requestsPerSec: result.requests.average,
    total2xx: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    sent: n,
    p50: result.latency.p50,
    p99: result.latency.p99,
    p999: result.latency.p99_9,
    max: result.latency.max,
    durationS: result.duration,
  }),
);
