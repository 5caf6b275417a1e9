/**
 * The callback listener's connections (issue #23): no client can lock the IM backend out by
 * holding connections, slow headers are cut off whatever came before, every request read and
 * processed on a connection is answered before it closes, and a request without Host gets a FAIL
 * reply like any refusal. Real sockets; several source addresses from 127.0.0.0/8.
 */
import net from 'node:net';
import t from 'tap';
import { readLines } from '../helpers/lines.js';
import { exitBody, post, query, request, startLogged } from '../helpers/service.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A connection from `from` (an address on loopback), open and idle. */
function connect(port: number, from = '127.0.0.1'): Promise<net.Socket & { gone: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress: from }, () => resolve(Object.assign(s, { gone })));
    const gone = new Promise<void>((r) => s.on("close", () => r()));
    s.on('error', () => {});
    s.once('error', reject);
  });
}
const isClosed = (s: { gone: Promise<void> }, ms = 1500) => Promise.race([s.gone.then(() => true), sleep(ms).then(() => false)]);

/** A request whose headers are complete and whose body never is: a request in progress. */
function busy(s: net.Socket): void {
  s.write(`POST ${query()} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{`);
}

/** Raw requests on one connection, and everything it answered until it closed. */
function exchange(port: number, raw: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(raw));
    let got = '';
    s.on('data', (d) => (got += d));
    s.on('close', () => resolve(got));
    s.on('error', () => {});
  });
}
const callback = (member: string, extra = '') => {
  const body = JSON.stringify(exitBody({ ExitMemberList: [{ Member_Account: member }] }));
  return `POST ${query()} HTTP/1.1\r\nHost: x\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
};
const metric = async (port: number, name: string) => Number(new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec((await request(port, { method: 'GET', path: '/metrics' })).text)?.[1] ?? 0);

t.test('at the global bound: the oldest idle connection is closed for a new one; one with a request in progress never is', async (t) => {
  const svc = await startLogged(t, { limits: { maxConnections: 3 } });
  const a = await connect(svc.port);
  const b = await connect(svc.port);
  busy(b);
  const c = await connect(svc.port);
  await sleep(50);
  const d = await connect(svc.port);
  t.ok(await isClosed(a), 'the oldest idle one (a) was closed for the new one');
  t.notOk(await isClosed(b, 300), 'the one with a request in progress stays');
  busy(c);
  busy(d);
  await sleep(50);
  const e = await connect(svc.port);
  t.ok(await isClosed(e), 'with none idle, the new one is refused');
  t.equal(await metric(svc.adminPort, 'member_exit_audit_connections_closed_total{reason="reclaimed"}'), 1);
  t.equal(await metric(svc.adminPort, 'member_exit_audit_connections_closed_total{reason="limit"}'), 1);
  t.match(svc.records.find((r) => r.msg === 'connections closed to keep the listener fair'), { level: 40, closed: { reclaimed: 1 } }, 'logged (once per 10 s, with the counts)');
  for (const s of [b, c, d]) s.destroy();
});

t.test('authenticated connections are reclaimed last: an idle one that delivered a signed callback outlives idle unauthenticated ones', async (t) => {
  const svc = await startLogged(t, { limits: { maxConnections: 3 } });
  const trusted = await connect(svc.port);
  const answered = new Promise<string>((resolve) => {
    let got = '';
    trusted.on('data', (d) => {
      got += d;
      if (got.includes('"ErrorCode":0')) resolve(got);
    });
  });
  trusted.write(callback('kept'));
  await answered;
  const x = await connect(svc.port);
  const y = await connect(svc.port);
  y.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'); // a refusal (405): still unauthenticated
  await sleep(50);
  const z = await connect(svc.port);
  t.ok(await isClosed(x), 'an idle unauthenticated one went first, though younger');
  t.notOk(await isClosed(trusted, 300), 'the authenticated one stays');
  for (const s of [trusted, y, z]) s.destroy();
});

t.test('per source: past the bound, that source\'s oldest idle connection goes; other sources and trusted proxies are not bound', async (t) => {
  const svc = await startLogged(t, { limits: { maxConnectionsPerSource: 2 }, trustProxy: ['127.0.0.9'] });
  const h1 = await connect(svc.port, '127.0.0.2');
  const h2 = await connect(svc.port, '127.0.0.2');
  busy(h2);
  await sleep(50);
  const h3 = await connect(svc.port, '127.0.0.2');
  t.ok(await isClosed(h1), 'its oldest idle one is closed');
  busy(h3);
  await sleep(50);
  const h4 = await connect(svc.port, '127.0.0.2');
  t.ok(await isClosed(h4), 'none idle: the new one is refused');
  const others = await Promise.all([connect(svc.port, '127.0.0.3'), connect(svc.port, '127.0.0.3')]);
  t.notOk(await isClosed(others[0]!, 300), 'another source has its own bound, untouched by the first one\'s');
  const proxied = await Promise.all([0, 1, 2, 3].map(() => connect(svc.port, '127.0.0.9')));
  t.notOk(await isClosed(proxied[0]!, 300), 'a trusted proxy is not bound per source');
  t.equal((await post(svc.port, exitBody())).status, 200, 'callbacks from elsewhere are served');
  t.equal(await metric(svc.adminPort, 'member_exit_audit_connections_closed_total{reason="per_source"}'), 1);
  for (const s of [h2, h3, ...others, ...proxied]) s.destroy();
});

// Issue #23 item 11: the cut-off did not fire in 3 of 4 runs once ~100 requests had been served.
t.test('slow headers are cut off with a 408 FAIL reply, after a hundred ordinary and hostile requests as before them', async (t) => {
  const svc = await startLogged(t, { limits: { headersTimeoutMs: 1000, requestTimeoutMs: 5000 } });
  const agent = new (await import('node:http')).Agent({ keepAlive: true, maxSockets: 8 });
  t.teardown(() => agent.destroy());
  await Promise.all(
    Array.from({ length: 100 }, (_, i) =>
      i % 3 === 0 ? request(svc.port, { method: 'GET', agent }) : i % 3 === 1 ? post(svc.port, '{bad', {}, agent) : post(svc.port, exitBody({ ExitMemberList: [{ Member_Account: `m${i}` }] }), {}, agent),
    ),
  );
  for (const round of ['after', 'fresh connection after the first cut-off']) {
    const started = Date.now();
    const s = net.connect(svc.port, '127.0.0.1', () => s.write(`POST ${query()} HTTP/1.1\r\n`));
    const drip = setInterval(() => s.writable && s.write('X-Slow: 1\r\n'), 300);
    let got = '';
    s.on('data', (d) => (got += d));
    s.on('error', () => {});
    const closed = await Promise.race([new Promise<boolean>((r) => s.on('close', () => r(true))), sleep(10000).then(() => false)]);
    clearInterval(drip);
    s.destroy();
    t.ok(closed, `${round}: closed (after ${Date.now() - started} ms; limit 1000 ms, one header every 300 ms)`);
    t.match(got, /^HTTP\/1\.1 408 Request Timeout[\s\S]*"ErrorCode":40801/, `${round}: with the 408 FAIL reply`);
  }
  t.ok(await metric(svc.adminPort, 'member_exit_audit_connections_closed_total{reason="headers_timeout"}') >= 1);
  t.equal((await post(svc.port, exitBody())).status, 200, 'the service is unharmed');
});

t.test('an idle kept-alive connection is not cut off by the header timer: only one that started a request', async (t) => {
  const svc = await startLogged(t, { limits: { headersTimeoutMs: 500 } });
  const s = await connect(svc.port);
  let got = '';
  s.on('data', (d) => (got += d));
  s.write(callback('first'));
  await sleep(1500);
  t.notOk(await isClosed(s, 10), 'idle for three header timeouts after its answer: still open (keepAliveTimeoutMs decides)');
  s.write(callback('second'));
  await sleep(300);
  t.equal(got.match(/"ErrorCode":0/g)?.length, 2, 'and it is served again');
  s.destroy();
});

// Issue #23 item 8: a reset is, for Tencent, delivered: an answer after the write costs nothing.
t.test('pipelining: during the SIGTERM drain every callback received on a connection is answered before it closes', async (t) => {
  const svc = await startLogged(t, { shutdownGraceMs: 3000 });
  const s = await connect(svc.port);
  let got = '';
  s.on('data', (d) => (got += d));
  void svc.stop();
  await sleep(20);
  s.write(callback('p1') + callback('p2') + callback('p3'));
  await s.gone;
  t.equal(got.match(/HTTP\/1\.1 200/g)?.length, 3, 'three answers');
  t.equal(got.match(/Connection: close/gi)?.length, 1, 'only the last says Connection: close');
  t.same(readLines(svc.file).map((l) => l.member), ['p1', 'p2', 'p3']);
});

t.test('pipelining: a callback received behind an early FAIL is answered before the connection closes', async (t) => {
  const svc = await startLogged(t);
  // A body over its limit, refused from Content-Length before it is read, then a good callback.
  const huge = `POST ${query()} HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n`;
  const got = await exchange(svc.port, callback('before') + huge + '{'.padEnd(2000000, ' ') + callback('after'));
  const members = readLines(svc.file).map((l) => l.member);
  const answers = got.match(/HTTP\/1\.1 \d+/g) ?? [];
  t.same(answers.slice(0, 2), ['HTTP/1.1 200', 'HTTP/1.1 413']);
  // Whatever was written was answered: a line without an answer is what Tencent would lose.
  t.equal(members.length, answers.filter((a) => a === 'HTTP/1.1 200').length, `every written callback answered (${members.join(', ')}; ${answers.join(', ')})`);
});

t.test('HTTP/1.1 without Host: a FAIL reply, one warn line, a metric (not Node\'s bare 400)', async (t) => {
  const svc = await startLogged(t);
  const got = await exchange(svc.port, `POST ${query()} HTTP/1.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`);
  t.match(got, /^HTTP\/1\.1 400[\s\S]*\{"ActionStatus":"FAIL","ErrorInfo":"malformed HTTP request: HTTP\/1\.1 request without Host","ErrorCode":40007\}/);
  t.match(svc.records.find((r) => r.msg === 'request refused'), { level: 40, err: { code: 'BAD_REQUEST' } });
  t.equal(await metric(svc.adminPort, 'member_exit_audit_callbacks_total{command="other",result="BAD_REQUEST"}'), 1);
  t.equal(readLines(svc.file).length, 0);
  const ten = await exchange(svc.port, `POST ${query()} HTTP/1.0\r\nContent-Length: ${JSON.stringify(exitBody()).length}\r\n\r\n${JSON.stringify(exitBody())}`);
  t.match(ten, /^HTTP\/1\.1 200/, 'HTTP/1.0 needs no Host');
});
