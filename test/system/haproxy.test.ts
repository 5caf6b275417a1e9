/**
 * The shipped HAProxy config (config/haproxy/member-exit-audit.cfg), run with Debian's HAProxy in
 * front of two real instances (dist/main.js, each its own trail), while a client that delivers as
 * Tencent's IM backend does (2 s timeout, reply ignored, only a timed-out callback resent) keeps
 * sending: each instance in turn killed with SIGKILL and started again, one's disk full for 10 s
 * (a real tmpfs), one restarted with SIGTERM. Every exit sent is recorded in one of the two trails
 * (issue #20), and the client never saw a quick error: HAProxy moved what an instance could not
 * take to the other one.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { haproxy, instance, union } from '../helpers/fleet.js';
import { imBackend, tally } from '../helpers/im-backend.js';
import { exitBody, query } from '../helpers/service.js';
import { fill, tmpfs } from '../helpers/tmpfs.js';
import { requireTool } from '../helpers/tools.js';

const TENCENT = { timeoutMs: 2000, resends: 2, resendGapMs: 1000 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('two instances behind HAProxy: killed, restarted, a full disk: every exit sent is recorded', { timeout: 180000 }, async (t) => {
  const bin = requireTool(t, 'haproxy');
  if (!bin) return;
  const mnt = tmpfs(t, '64m');
  if (!mnt) return;
  const dir = mkdtempSync(join(tmpdir(), 'mea-haproxy-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // Instance a writes on the tmpfs that will fill up; b on the ordinary disk.
  const a = await instance(t, 'a', join(mnt, 'member-exit.ndjson'));
  const b = await instance(t, 'b', join(dir, 'b', 'member-exit.ndjson'));
  const lb = await haproxy(t, bin, dir, a, b);

  const steps: string[] = [];
  const step = (what: string) => steps.push(`${((Date.now() - started) / 1000).toFixed(1)} s ${what}`);
  const started = Date.now();
  const faults = (async () => {
    for (const inst of [a, b]) {
      await sleep(2500);
      step(`kill -9 ${inst.name}`);
      await inst.stop('SIGKILL');
      await sleep(1000);
      await inst.start();
      step(`${inst.name} started again`);
    }
    await sleep(2500);
    step('a: disk full');
    const free = fill(mnt);
    await sleep(10000);
    free();
    step('a: disk back');
    await sleep(2500);
    step('SIGTERM b');
    const exit = await b.stop('SIGTERM');
    t.same(exit, { code: 0, signal: null }, 'b drained and stopped cleanly');
    await b.start();
    step('b started again');
  })();
  const run = await imBackend({ port: lb.port, connections: 16, prefix: 'lb', durationMs: 30000, ...TENCENT });
  await faults;
  // The resends are over; what a held on its full disk was written when the space came back.
  await sleep(1000);
  await Promise.all([a.stop('SIGTERM'), b.stop('SIGTERM')]);

  const lines = union(a.file, join(dir, 'b', 'member-exit.ndjson'));
  const { missing, ackedMissing, twice, summary } = tally(run, lines);
  t.comment(steps.join('; '));
  t.comment(summary);
  t.comment(`haproxy: sent ${run.sent.size}, recorded ${run.sent.size - missing.length}, recorded twice ${twice}; ${lb.resent()} callbacks resent to the other instance by HAProxy`);
  t.same(missing, [], 'every exit sent is recorded in one of the two trails');
  t.same(ackedMissing, [], 'every acknowledged exit is recorded');
  t.ok(lb.resent() > 0, 'HAProxy resent callbacks an instance did not answer to the other instance');
  // A quick error is, for Tencent, a delivered callback that is never resent: the client must
  // have seen only OKs, and timeouts (which it resends).
  t.same(
    Object.keys(run.outcomes).filter((k) => k !== '200' && k !== 'timeout'),
    [],
    `no reply but OK before the client's timeout ${JSON.stringify(run.outcomes)}`,
  );
  t.ok(a.procs.length === 2 && b.procs.length === 3, 'each instance was started again after its kill (b also after its SIGTERM)');
});

t.test('TLS in front: MEA_TLS_CERT makes HAProxy serve HTTPS', async (t) => {
  const bin = requireTool(t, 'haproxy');
  const openssl = requireTool(t, 'openssl');
  if (!bin || !openssl) return;
  const dir = mkdtempSync(join(tmpdir(), 'mea-haproxy-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync(openssl, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'pipe' });
  // HAProxy takes the certificate chain and its key in one PEM file.
  writeFileSync(join(dir, 'member-exit-audit.pem'), execFileSync('cat', [join(dir, 'cert.pem'), join(dir, 'key.pem')]));
  const a = await instance(t, 'a', join(dir, 'a', 'member-exit.ndjson'));
  const b = await instance(t, 'b', join(dir, 'b', 'member-exit.ndjson'));
  const lb = await haproxy(t, bin, dir, a, b, { MEA_TLS_CERT: join(dir, 'member-exit-audit.pem') });
  const body = JSON.stringify(exitBody({ ExitMemberList: [{ Member_Account: 'over-tls' }] }));
  const status = await new Promise<number>((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: lb.port, method: 'POST', path: query(), rejectUnauthorized: false, headers: { 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
  t.equal(status, 200, 'a callback over HTTPS is answered OK');
  await Promise.all([a.stop('SIGTERM'), b.stop('SIGTERM')]);
  t.equal(union(a.file, b.file).get('over-tls'), 1, 'and recorded once');
});
