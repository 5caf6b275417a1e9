/**
 * The recipes docs/operations.md gives for changing where the service listens (issue #22 item 3),
 * run as written: the callback address and port (a socket drop-in that empties ListenStream=
 * first: a drop-in with only the new line adds a second listener on the same port, fails with
 * "Address already in use" and leaves the service inactive), the admin port, and TLS. Each
 * recipe is checked to be in the docs word for word, then run in the container.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Container } from './container.js';
import { callback, CONFIG, connectResult, lastListening, prop, readConfig, SERVICE, SOCKET, status, waitFor, type loadSteps } from './steps.js';

const DOCS = new URL('../../docs/operations.md', import.meta.url).pathname;
const health = (port: number) => fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status === 200, () => false);

/** docs/operations.md, "Changing the address or port". */
export const LISTEN = `mkdir -p /etc/systemd/system/member-exit-audit.socket.d
cat >/etc/systemd/system/member-exit-audit.socket.d/listen.conf <<'EOF'
[Socket]
# Empty first: a ListenStream= line on its own adds a listener instead of replacing it.
ListenStream=
ListenStream=0.0.0.0:8080
EOF
systemctl daemon-reload
systemctl restart member-exit-audit.socket`;

/** The same, undone: back to the packaged 127.0.0.1:8080. */
export const UNLISTEN = `rm /etc/systemd/system/member-exit-audit.socket.d/listen.conf
systemctl daemon-reload
systemctl restart member-exit-audit.socket`;

/** After an edit of config.json that needs a restart (admin listener, TLS on or off). */
export const RESTART = 'member-exit-audit check-config && systemctl restart member-exit-audit.service';

/** Certificate and key into place, readable by the service's group and nobody else. */
export const INSTALL_TLS = 'install -m 0640 -g member-exit-audit cert.pem key.pem /etc/member-exit-audit/';

/** After a renewal: the new files in place, then a reload. */
export const RENEW_TLS = `${INSTALL_TLS}\nsystemctl reload member-exit-audit.service`;

export async function listenRecipes(t: Tap.Test, c: Container, { acked, underLoad }: ReturnType<typeof loadSteps>, suite: string): Promise<void> {
  const docs = readFileSync(DOCS, 'utf8');
  for (const [name, recipe] of Object.entries({ LISTEN, UNLISTEN, RESTART, RENEW_TLS })) t.ok(docs.includes(recipe), `docs/operations.md gives the ${name} recipe as tested`);
  const sh = (script: string, cwd = '/') => c.ok(['sh', '-ec', `cd ${cwd}\n${script}`]);
  let n = 0;
  const ok = async (url: string, what: string) => {
    const member = `${suite}-recipe-${n++}`;
    const r = await callback(url, member);
    t.match(r, { status: 200, json: { ActionStatus: 'OK' } }, `${what}: a callback to ${url} is acknowledged`);
    if (r.status === 200) acked.push(member);
    return r;
  };

  // A new address: 0.0.0.0 takes 127.0.0.2 as well. Switching closes one listener for another:
  // connections still in the old one's queue are reset, those that arrive before the new one
  // opens are refused. Counted in the comment line, not failed; nothing acknowledged is lost.
  await underLoad('listen on 0.0.0.0:8080 (socket drop-in)', () => sh(LISTEN).then(() => undefined), { refusedAllowed: true, resetsAllowed: true });
  t.equal(await prop(c, SOCKET, 'Listen'), '0.0.0.0:8080 (Stream)', 'the socket listens on the new address only');
  await ok('http://127.0.0.2:8080/', 'new address');
  t.equal(await prop(c, SERVICE, 'ActiveState'), 'active', 'the service is active');
  t.match(await lastListening(c), { host: '0.0.0.0', port: 8080, activated: true }, 'and serves the socket it was given');

  // A new port: the same drop-in with another ListenStream=.
  await sh(LISTEN.replace('0.0.0.0:8080', '127.0.0.1:8081'));
  await ok('http://127.0.0.1:8081/', 'new port');
  t.equal(await connectResult('127.0.0.1', 8080), 'ECONNREFUSED', 'the old port is closed');
  await sh(UNLISTEN);
  await ok('http://127.0.0.1:8080/', 'drop-in removed');
  t.equal(await connectResult('127.0.0.2', 8080), 'ECONNREFUSED', 'back on 127.0.0.1 only');

  // The admin listener is the service's own (config.json), not the socket's.
  const saved = readFileSync(c.path(CONFIG), 'utf8');
  const edit = (over: Record<string, unknown>) => writeFileSync(c.path(CONFIG), `${JSON.stringify({ ...readConfig(c), ...over }, null, 2)}\n`);
  edit({ admin: { host: '127.0.0.1', port: 9465 } });
  await sh(RESTART);
  // Unlike the callback port, the admin listener is opened by the process: wait for it.
  await waitFor(() => health(9465), () => status(c));
  t.pass('admin port moved: /healthz answers on 9465');
  t.equal(await connectResult('127.0.0.1', 9464), 'ECONNREFUSED', 'and no longer on 9464');

  // TLS served by the service itself, the certificate renewed with a reload.
  const dir = c.path('root');
  const cert = (cn: string) => execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-days', '2', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  cert('first');
  await sh(INSTALL_TLS, '/root');
  edit({ tls: { certFile: '/etc/member-exit-audit/cert.pem', keyFile: '/etc/member-exit-audit/key.pem' } });
  await sh(RESTART);
  t.match(await ok('https://127.0.0.1:8080/', 'TLS'), { cn: 'first' }, 'served with the installed certificate');
  t.equal((await c.ok(['stat', '-c', '%U:%G %a', '/etc/member-exit-audit/key.pem'])).trim(), 'root:member-exit-audit 640', 'the key is the service group\'s');
  t.not((await c.run(['runuser', '-u', 'reader', '--', 'cat', '/etc/member-exit-audit/key.pem'])).code, 0, 'a reader of the trail cannot read it');
  cert('second');
  await sh(RENEW_TLS, '/root');
  t.match(await ok('https://127.0.0.1:8080/', 'TLS renewed'), { cn: 'second' }, 'after the reload, the renewed certificate');

  // TLS off again, and its files gone: they are the operator's, which purge would leave behind.
  writeFileSync(c.path(CONFIG), saved);
  await sh(RESTART);
  await c.ok(['rm', '/etc/member-exit-audit/cert.pem', '/etc/member-exit-audit/key.pem']);
  await ok('http://127.0.0.1:8080/', 'config restored');
  await waitFor(() => health(9464), () => status(c));
  t.pass('admin back on 9464');
}
