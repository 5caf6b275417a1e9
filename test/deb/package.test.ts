/**
 * The Debian package under a real systemd (issue #11): build the .deb (and the same package with a
 * higher version), install it into freshly bootstrapped Debian 12 and Debian 13 containers with
 * nothing else installed, and check what an operator relies on, from install to purge: the unit
 * runs, the token arrives through LoadCredential, the sample callback lands owned by the service
 * user, reload and logrotate, query and verify as installed, restart / upgrade / kill -9 under load
 * refuse nothing and lose nothing, systemd-analyze security, and purge keeps the trail.
 *
 * Needs root, debootstrap, systemd-nspawn (systemd-container), dpkg-deb, strip and the Debian
 * mirror. Skipped, saying why, when they are missing; failing under CI=true (.ci/run installs them).
 * Run with `npm run test:system` (docs/testing.md).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import t from 'tap';
import { FIXTURES, post } from '../helpers/service.js';
import { which } from '../helpers/tools.js';
import { bootstrapped, Container } from './container.js';
import { signedParams, startLoad, type Tally } from './load.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const UPGRADE = `${VERSION}+1`;
const SUITES = (process.env.MEA_SUITES ?? 'bookworm trixie').split(/\s+/).filter(Boolean);
const PORT = 8080;
const TOKEN = 'deb-test-token-0123456789';
const TRAIL = '/var/log/member-exit-audit';
const FILE = `${TRAIL}/member-exit.ndjson`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const missing = ['debootstrap', 'systemd-nspawn', 'nsenter', 'dpkg-deb', 'strip'].filter((c) => !which(c));
const why = process.getuid?.() !== 0 ? 'not root (debootstrap and systemd-nspawn need root)' : missing.length ? `missing ${missing.join(', ')} (apt-get install debootstrap systemd-container dpkg-dev binutils)` : '';
if (why) {
  if (process.env.CI) t.fail(`the package system test cannot run: ${why}; .ci/run should have provided it`);
  else t.skip(`the package system test: ${why}`);
} else {
  const out = mkdtempSync(join(tmpdir(), 'mea-debs-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const deb = join(out, `member-exit-audit_${VERSION}_amd64.deb`);
  const upgradeDeb = join(out, `member-exit-audit_${UPGRADE}_amd64.deb`);

  t.before(async () => {
    const run = promisify(execFile);
    await Promise.all([
      run(process.execPath, ['scripts/package.mjs', '--out', out], { cwd: ROOT }),
      run(process.execPath, ['scripts/package.mjs', '--out', out, '--version', UPGRADE], { cwd: ROOT }),
    ]);
  });

  t.test('lintian: no errors; each warning kept is explained in docs/operations.md', async (t) => {
    if (!which('lintian')) {
      if (process.env.CI) t.fail('lintian is not installed: .ci/run should have installed it');
      else t.skip('lintian is not installed (apt-get install lintian)');
      return;
    }
    const r = await promisify(execFile)('lintian', ['--allow-root', deb], { encoding: 'utf8' }).catch((e: { stdout: string; stderr: string }) => e);
    const tags = r.stdout.split('\n').filter((l) => /^[EWIPXO]: /.test(l));
    t.comment(`lintian: ${tags.length ? tags.join('; ') : 'clean'}`);
    t.same(tags.filter((l) => l.startsWith('E: ')), [], 'no errors');
    // The official Node.js build is not a position-independent executable: rebuilding Node.js is
    // not this package's business (docs/operations.md "The Debian package").
    t.same(tags.filter((l) => l.startsWith('W: ')), ['W: member-exit-audit: hardening-no-pie [usr/lib/member-exit-audit/bin/node]'], 'the one explained warning');
    const size = statSync(deb).size;
    t.comment(`package size: ${(size / 1048576).toFixed(1)} MiB`);
    t.ok(size < 40 * 1048576, `the package is ${(size / 1048576).toFixed(1)} MiB`);
  });

  for (const suite of SUITES) {
    t.test(`Debian ${suite}: install, run, rotate, restart, upgrade, roll back, kill, purge`, { timeout: 900000 }, async (t) => {
      const tree = bootstrapped(suite, (s) => t.comment(s));
      const c = new Container(tree, suite);
      t.teardown(() => c.stop());
      await c.boot();
      for (const f of [deb, upgradeDeb]) copyFileSync(f, c.path(`root/${f.split('/').pop()}`));

      // A stock system: no Node.js of its own.
      t.not((await c.run(['sh', '-c', 'command -v node nodejs npm'])).code, 0, 'no node, nodejs or npm before the install');
      await c.ok(['apt-get', 'update', '-qq']);
      const install = await c.ok(['apt-get', 'install', '-y', '-q', `/root/member-exit-audit_${VERSION}_amd64.deb`]);
      t.match(install, /callback token in \/etc\/credstore\/member-exit-audit\.token/, 'the install says where the token goes');
      for (const unit of ['member-exit-audit.socket', 'member-exit-audit.service', 'member-exit-audit-logrotate.timer']) {
        t.equal((await c.run(['systemctl', 'is-active', unit])).stdout.trim(), 'active', `${unit} is active after the install`);
        t.equal((await c.run(['systemctl', 'is-enabled', unit])).stdout.trim(), 'enabled', `${unit} is enabled`);
      }
      const verifyUnits = await c.run(['systemd-analyze', 'verify', '--man=no', 'member-exit-audit.socket', 'member-exit-audit.service', 'member-exit-audit-logrotate.service', 'member-exit-audit-logrotate.timer']);
      t.equal(verifyUnits.code, 0, 'systemd-analyze verify of the installed units');
      t.equal((verifyUnits.stdout + verifyUnits.stderr).trim(), '', 'with no warning');
      t.equal((await c.ok(['member-exit-audit', '--version'])).trim(), `member-exit-audit ${VERSION}`);
      t.match((await c.ok(['/usr/lib/member-exit-audit/bin/node', '--version'])).trim(), /^v24\./, 'the packaged runtime is Node.js 24');
      t.not((await c.run(['sh', '-c', 'command -v node nodejs npm'])).code, 0, 'and it installed no node, nodejs or npm');
      t.equal((await c.ok(['stat', '-c', '%U:%G %a', '/etc/member-exit-audit', '/etc/member-exit-audit/config.json'])).trim(), 'root:member-exit-audit 750\nroot:member-exit-audit 640');
      const checked = await c.run(['member-exit-audit', 'check-config']);
      t.equal(checked.code, 0, 'check-config accepts the packaged config');
      t.match(checked.stdout, 'audit file /var/log/member-exit-audit/member-exit.ndjson');

      // No token yet: the unit still runs (no 243/CREDENTIALS), warns, and refuses every callback.
      const body = readFileSync(join(FIXTURES, 'doc-sample.json'), 'utf8');
      const query = Object.fromEntries(new URLSearchParams(readFileSync(join(FIXTURES, 'doc-sample.query'), 'utf8').trim()));
      const signed = signedParams(TOKEN);
      const refused = await post(PORT, body, { ...query, ...signed() });
      t.equal(refused.status, 401, 'without its token the app is refused (fail closed)');
      t.match(refused.json, { ActionStatus: 'FAIL', ErrorCode: 40104 });
      t.match(await c.ok(['journalctl', '-u', 'member-exit-audit.service', '-o', 'cat', '--no-pager']), 'token file missing', 'the service says why');
      t.equal((await c.run(['sh', '-c', `test -e ${FILE} && wc -c < ${FILE} || echo 0`])).stdout.trim(), '0', 'and wrote nothing');

      // The README's step: the token in the credential store, chain on, restart.
      await c.ok(['bash', '-c', `install -m 0600 /dev/stdin /etc/credstore/member-exit-audit.token <<<'${TOKEN}'`]);
      t.equal((await c.ok(['stat', '-c', '%U %a', '/etc/credstore', '/etc/credstore/member-exit-audit.token'])).trim(), 'root 700\nroot 600', 'the credential store is root\'s alone');
      const config = JSON.parse(readFileSync(c.path('etc/member-exit-audit/config.json'), 'utf8')) as { audit: Record<string, unknown> };
      config.audit.chain = true;
      writeFileSync(c.path('etc/member-exit-audit/config.json'), `${JSON.stringify(config, null, 2)}\n`);
      await c.ok(['systemctl', 'restart', 'member-exit-audit.service']);
      const ok = await post(PORT, body, { ...query, ...signed() });
      t.match(ok.json, { ActionStatus: 'OK', ErrorCode: 0 }, 'the sample callback, signed with the token from LoadCredential, is acknowledged');
      t.equal((await c.ok(['stat', '-c', '%U:%G %a', FILE])).trim(), 'member-exit-audit:member-exit-audit 640', 'the trail is owned by the service user, mode 0640');
      const first = readFileSync(c.path(FILE), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      t.same(first.map((l) => [l.member, l.groupId, l.exitType]), [['jared', '@TGS#2J4SZEAEL', 'Kicked'], ['tommy', '@TGS#2J4SZEAEL', 'Kicked']], 'one line per exited member');

      // query and verify, as installed, with no flags: by root, and by a reader in the group.
      await c.ok(['useradd', '--groups', 'member-exit-audit', 'reader']);
      await c.ok(['useradd', 'stranger']);
      const found = await c.run(['runuser', '-u', 'reader', '--', 'member-exit-audit', 'query', '--member', 'tommy']);
      t.equal(found.code, 0, 'a reader in the group queries the configured trail with no flags');
      t.match(JSON.parse(found.stdout), { member: 'tommy', groupId: '@TGS#2J4SZEAEL' });
      t.not((await c.run(['runuser', '-u', 'stranger', '--', 'member-exit-audit', 'query', '--member', 'tommy'])).code, 0, 'a user outside the group cannot');
      const verified = await c.run(['member-exit-audit', 'verify']);
      t.equal(verified.code, 0, `verify checks the chain as installed: ${verified.stdout.trim()} ${verified.stderr.trim()}`);

      // systemctl reload reopens: the file moved aside, the next line goes to a new file at the path.
      await c.ok(['mv', FILE, `${FILE}.moved`]);
      await c.ok(['systemctl', 'reload', 'member-exit-audit.service']);
      await waitFor(async () => (await journal(c)).includes('SIGHUP: reopening'), () => status(c));
      t.match(await post(PORT, readFileSync(join(FIXTURES, 'doc-sample.json'), 'utf8').replace(/jared/g, 'after-reload'), { ...query, ...signed() }), { status: 200 });
      t.match(readFileSync(c.path(FILE), 'utf8'), '"after-reload"', 'reload: the next line is in a new file at the configured path');
      t.notMatch(readFileSync(c.path(`${FILE}.moved`), 'utf8'), 'after-reload', 'and none in the moved one');
      t.notMatch(await journal(c), 'audit file moved', 'the reload reopened it, not the rename check');
      await c.ok(['rm', `${FILE}.moved`]);

      // Under load: logrotate --force with the packaged config, restart, upgrade, rollback, kill -9.
      const all: string[] = [];
      const underLoad = async (name: string, act: () => Promise<void>, opts: { resetsAllowed?: boolean } = {}) => {
        const load = startLoad(PORT, TOKEN, `${suite}-${name}`);
        let tally: Tally;
        try {
          await sleep(1000);
          await act();
          await sleep(1500);
        } finally {
          tally = await load.stop();
        }
        all.push(...tally.acked);
        report(t, suite, name, tally);
        t.equal(tally.refused, 0, `${name}: no connection refused`);
        if (!opts.resetsAllowed) t.equal(tally.reset, 0, `${name}: no request reset`);
        t.same(tally.otherErrors, [], `${name}: no other error`);
        t.same(tally.failReplies, [], `${name}: no FAIL reply`);
        t.ok(tally.acked.length > 100, `${name}: ${tally.acked.length} members acknowledged`);
        const counts = trailCounts(c);
        t.equal(tally.acked.filter((m) => counts.get(m) !== 1).length, 0, `${name}: every acknowledged member is in the trail exactly once`);
        return tally;
      };

      const sighups = async () => (await journal(c)).split('SIGHUP: reopening').length - 1;
      const sighupsBefore = await sighups();
      await underLoad('logrotate', async () => {
        await c.ok(['logrotate', '--force', '--state', '/var/lib/member-exit-audit/logrotate.status', '/etc/member-exit-audit/logrotate.conf']);
      });
      t.ok(readdirSync(c.path(TRAIL)).includes('member-exit.ndjson.1'), 'logrotate made member-exit.ndjson.1');
      t.equal(await sighups(), sighupsBefore + 1, "logrotate's postrotate reloaded the service (one SIGHUP)");
      t.equal((await c.ok(['stat', '-c', '%U:%G %a', FILE])).trim(), 'member-exit-audit:member-exit-audit 640', 'the new file has the same owner and mode');
      await c.ok(['systemctl', 'start', 'member-exit-audit-logrotate.service']);
      t.equal((await c.ok(['systemctl', 'show', '-P', 'Result', 'member-exit-audit-logrotate.service'])).trim(), 'success', 'the hourly rotation unit runs');

      await underLoad('restart', async () => {
        await c.ok(['systemctl', 'restart', 'member-exit-audit.service']);
      });

      await underLoad('upgrade', async () => {
        await c.ok(['apt-get', 'install', '-y', '-q', '-o', 'Dpkg::Options::=--force-confold', `/root/member-exit-audit_${UPGRADE}_amd64.deb`]);
      });
      t.equal((await c.ok(['member-exit-audit', '--version'])).trim(), `member-exit-audit ${UPGRADE}`, 'the upgrade installed the new version');
      t.match(await lastListening(c), { version: UPGRADE, node: /^v24\./ }, 'and the running service is the new version');
      t.match(readFileSync(c.path('etc/member-exit-audit/config.json'), 'utf8'), '"chain": true', 'the edited conffile was kept');

      await underLoad('rollback', async () => {
        await c.ok(['apt-get', 'install', '-y', '-q', '--allow-downgrades', '-o', 'Dpkg::Options::=--force-confold', `/root/member-exit-audit_${VERSION}_amd64.deb`]);
      });
      t.equal((await c.ok(['member-exit-audit', '--version'])).trim(), `member-exit-audit ${VERSION}`, 'the rollback installed the older version');
      t.match(await lastListening(c), { version: VERSION }, 'and the older version is running');

      const restartsBefore = Number((await c.ok(['systemctl', 'show', '-P', 'NRestarts', 'member-exit-audit.service'])).trim());
      await underLoad('kill -9', async () => {
        await c.ok(['systemctl', 'kill', '--signal=SIGKILL', '--kill-whom=main', 'member-exit-audit.service']);
        // systemd starts it again after RestartSec=1s; the socket holds new connections meanwhile.
        await waitFor(async () => Number((await c.ok(['systemctl', 'show', '-P', 'NRestarts', 'member-exit-audit.service'])).trim()) > restartsBefore, () => status(c));
        await waitFor(async () => (await c.run(['systemctl', 'is-active', '--quiet', 'member-exit-audit.service'])).code === 0, () => status(c));
      }, { resetsAllowed: true });

      const counts = trailCounts(c);
      t.equal(all.filter((m) => counts.get(m) !== 1).length, 0, `all phases: ${all.length} acknowledged members, each in the trail exactly once`);
      const chain = await c.run(['member-exit-audit', 'verify']);
      t.equal(chain.code, 0, `verify across the rotated and current files: ${chain.stdout.trim()}`);
      if (chain.code !== 0) await chainDiagnosis(t, c);

      const security = await c.ok(['systemd-analyze', 'security', '--no-pager', 'member-exit-audit.service']);
      const score = /Overall exposure level for member-exit-audit\.service: (\d+\.\d+)/.exec(security)?.[1];
      t.comment(`${suite}: systemd-analyze security member-exit-audit.service: ${score}`);
      t.ok(Number(score) <= 1.5, `systemd-analyze security of the installed unit: ${score} <= 1.5`);

      // Remove, then purge: the service stops, the configuration goes, the trail stays.
      const trailBefore = readdirSync(c.path(TRAIL)).sort();
      await c.ok(['apt-get', 'remove', '-y', '-q', 'member-exit-audit']);
      t.not((await c.run(['systemctl', 'is-active', 'member-exit-audit.service'])).stdout.trim(), 'active', 'remove stops the service');
      t.not((await c.run(['systemctl', 'is-active', 'member-exit-audit.socket'])).stdout.trim(), 'active', 'and its socket');
      const purge = await c.ok(['apt-get', 'purge', '-y', '-q', 'member-exit-audit']);
      t.match(purge, /audit trail in \/var\/log\/member-exit-audit is kept/, 'purge says it keeps the trail');
      t.same(readdirSync(c.path(TRAIL)).sort(), trailBefore, 'purge leaves every trail file in place');
      const kept = trailCounts(c);
      t.equal(all.filter((m) => kept.get(m) !== 1).length, 0, 'with every line');
      t.not((await c.run(['test', '-e', '/etc/member-exit-audit/config.json'])).code, 0, 'purge removes the config');
      t.not((await c.run(['test', '-e', '/etc/credstore/member-exit-audit.token'])).code, 0, 'and the token');
    });
  }
}

/** When verify fails: each plain trail file's ends (prev and own hash) and the service's file events, so a failure says where. */
async function chainDiagnosis(t: Tap.Test, c: Container): Promise<void> {
  // Every file in the folder, trail or not: logrotate moves a file in its way aside (`-YYYYMMDDHH.backup`).
  t.comment(`${TRAIL}: ${readdirSync(c.path(TRAIL)).map((f) => `${f} (${statSync(join(c.path(TRAIL), f)).size} bytes)`).join(', ')}`);
  for (const f of readdirSync(c.path(TRAIL)).filter((f) => !f.endsWith('.gz')).sort()) {
    const lines = readFileSync(join(c.path(TRAIL), f), 'utf8').split('\n').filter(Boolean);
    const ends = [0, 1, lines.length - 2, lines.length - 1].filter((i, k, a) => i >= 0 && a.indexOf(i) === k);
    for (const i of ends) {
      const l = lines[i]!;
      t.comment(`${f}:${i + 1}/${lines.length} member ${/"member":"([^"]*)"/.exec(l)?.[1]} prev ${/"prev":"(\w{12})/.exec(l)?.[1]} hash ${createHash('sha256').update(l).digest('hex').slice(0, 12)}`);
    }
  }
  const events = (await journal(c)).split('\n').filter((l) => /audit file|SIGHUP|torn|"listening"|stopped|draining|audit write/.test(l));
  t.comment(events.slice(-40).join('\n'));
}

async function journal(c: Container): Promise<string> {
  return c.ok(['journalctl', '-u', 'member-exit-audit.service', '-o', 'cat', '--no-pager']);
}

/** The running service's `listening` log line. */
async function lastListening(c: Container): Promise<Record<string, unknown>> {
  const lines = (await journal(c)).split('\n').filter((l) => l.includes('"msg":"listening"'));
  return JSON.parse(lines.at(-1) ?? '{}') as Record<string, unknown>;
}

/** Wait until pred() holds; on time-out, fail with what `why` says (the unit's state, its log). */
async function waitFor(pred: () => Promise<boolean>, why?: () => Promise<string>, ms = 30000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting${why ? `\n${await why()}` : ''}`);
    await sleep(100);
  }
}

async function status(c: Container): Promise<string> {
  const st = await c.run(['systemctl', 'status', '--no-pager', '-n', '40', 'member-exit-audit.service']);
  return st.stdout + st.stderr;
}

/** How many lines each member has across the current and rotated files (plain or gzip). */
function trailCounts(c: Container): Map<string, number> {
  const counts = new Map<string, number>();
  const dir = c.path(TRAIL);
  for (const f of readdirSync(dir)) {
    if (!f.startsWith('member-exit.ndjson')) continue;
    const raw = readFileSync(join(dir, f));
    const text = f.endsWith('.gz') ? gunzipSync(raw).toString() : raw.toString();
    for (const line of text.split('\n')) {
      if (!line) continue;
      const member = (JSON.parse(line) as { member: string }).member;
      counts.set(member, (counts.get(member) ?? 0) + 1);
    }
  }
  return counts;
}

function report(t: Tap.Test, suite: string, name: string, tally: Tally): void {
  t.comment(`${suite} ${name}: ${tally.requests} requests on ${tally.connections} connections tried, ${tally.refused} refused, ${tally.reset} requests reset, ${tally.acked.length} members acknowledged`);
}
