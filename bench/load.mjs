// The load generator (a separate process, pinned to its own CPU by bench/run.mjs): autocannon
// with distinct callbacks: groups, members and EventTimes all vary; MEMBERS per callback.
// Prints one JSON result; writes the numbers of the acknowledged callbacks to ACKED_FILE.
import { writeFileSync } from 'node:fs';
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

// SECONDS_FILE: per second of the run, how many answers, how many not 2xx, their p99 and max (ms).
const perSecond = new Map();
const t0 = Date.now();
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
    const k = Math.floor((Date.now() - t0) / 1000);
    const s = perSecond.get(k) ?? { times: [], non2xx: 0 };
    s.times.push(ms);
    if (status < 200 || status > 299) s.non2xx++;
    perSecond.set(k, s);
  });
}
const result = await instance;
if (process.env.SECONDS_FILE) {
  const rows = [...perSecond].sort((a, b) => a[0] - b[0]).map(([second, { times, non2xx }]) => {
    times.sort((a, b) => a - b);
    return { second, answers: times.length, non2xx, p99: times[Math.floor(times.length * 0.99)] ?? null, max: times.at(-1) ?? null };
  });
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
