/**
 * An upgrade from the package as it was before the readers' group (issue #23 item 2) and before
 * its units moved to /usr/lib/systemd/system: that package is built from FROM_COMMIT's own tree
 * and scripts, installed, given a reader in the old group and some lines, then upgraded to this
 * one under load. The reader must come out in member-exit-audit-readers, still querying the
 * trail with no flags but no longer reading the config; no unit file may go missing (the move
 * from /lib to /usr/lib is the same file on a merged-/usr system); nothing refused or lost.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Container } from './container.js';
import { callback, CONFIG, loadSteps, prop, SERVICE, SOCKET, TOKEN, trailCounts, warnings } from './steps.js';

const ROOT = new URL('../../', import.meta.url).pathname;
/** main just before the readers' group, the config checks in the unit and /usr/lib/systemd/system. */
export const FROM_COMMIT = '20795c6bf64f03f8f258589ebdb15a7da5f45a70';

/** Whether FROM_COMMIT is in this clone's history (a shallow clone may not have it). */
export function haveFromCommit(): boolean {
  try {
    execFileSync('git', ['cat-file', '-e', `${FROM_COMMIT}^{commit}`], { cwd: ROOT, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Build FROM_COMMIT's package with FROM_COMMIT's scripts/package.mjs, on this checkout's
 * node_modules (its bundler and runtime), versioned below this one. Returns the .deb's path.
 */
export async function buildOldPackage(out: string, version: string): Promise<string> {
  const tree = mkdtempSync(join(tmpdir(), 'mea-old-'));
  try {
    execFileSync('sh', ['-c', `git archive ${FROM_COMMIT} | tar -x -C '${tree}'`], { cwd: ROOT });
    symlinkSync(join(ROOT, 'node_modules'), join(tree, 'node_modules'));
    const gitDir = execFileSync('git', ['rev-parse', '--absolute-git-dir'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const epoch = execFileSync('git', ['log', '-1', '--format=%ct', FROM_COMMIT], { cwd: ROOT, encoding: 'utf8' }).trim();
    await promisify(execFile)(process.execPath, ['scripts/package.mjs', '--out', out, '--version', version], { cwd: tree, env: { ...process.env, GIT_DIR: gitDir, SOURCE_DATE_EPOCH: epoch } });
    return join(out, `member-exit-audit_${version}_amd64.deb`);
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
}

export async function upgradeFromOld(t: Tap.Test, c: Container, suite: string, oldDeb: string, newDeb: string): Promise<void> {
  const old = `/root/${oldDeb}`;
  await c.ok(['apt-get', 'update', '-qq']);
  await c.ok(['apt-get', 'install', '-y', '-q', old]);
  await c.ok(['bash', '-c', `install -m 0600 /dev/stdin /etc/credstore/member-exit-audit.token <<<'${TOKEN}'`]);
  await c.ok(['systemctl', 'restart', SERVICE]);
  // The old README's step for a reader: the service's own group, which also reads the config.
  await c.ok(['useradd', '--groups', 'member-exit-audit', 'alice']);
  t.match(await c.ok(['id', 'alice']), /\(member-exit-audit\)/, 'before: alice reads the trail through the service\'s group');
  t.equal((await c.run(['runuser', '-u', 'alice', '--', 'cat', CONFIG])).code, 0, 'and so reads the config (the flaw)');
  const first = await callback('http://127.0.0.1:8080/', `${suite}-old-0`);
  t.match(first, { status: 200 }, 'the old package acknowledges a callback');

  const steps = loadSteps(t, c, `${suite}-old`);
  let output = '';
  await steps.underLoad('upgrade from the package before the readers\' group', async () => {
    output = await c.ok(['apt-get', 'install', '-y', '-q', '-o', 'Dpkg::Options::=--force-confold', `/root/${newDeb}`]);
  });
  t.match(output, /alice moved from group member-exit-audit to member-exit-audit-readers/, 'the upgrade says whom it moved');
  const id = await c.ok(['id', 'alice']);
  t.match(id, /\(member-exit-audit-readers\)/, 'alice is in the readers\' group');
  t.notMatch(id, /\(member-exit-audit\)/, 'and no longer in the service\'s');
  t.not((await c.run(['runuser', '-u', 'alice', '--', 'cat', CONFIG])).code, 0, 'she cannot read the config any more');
  const found = await c.run(['runuser', '-u', 'alice', '--', 'member-exit-audit', 'query', '--member', `${suite}-old-0`]);
  t.equal(found.code, 0, `she still queries the trail written before the upgrade, with no flags: ${found.stderr.trim()}`);
  t.equal((await c.ok(['stat', '-c', '%G', '/var/log/member-exit-audit', '/var/log/member-exit-audit/member-exit.ndjson'])).trim(), 'member-exit-audit-readers\nmember-exit-audit-readers', 'the trail moved to the readers\' group');

  for (const unit of ['member-exit-audit.socket', 'member-exit-audit.service', 'member-exit-audit-logrotate.service', 'member-exit-audit-logrotate.timer']) {
    t.equal((await c.run(['test', '-f', `/usr/lib/systemd/system/${unit}`])).code, 0, `${unit} is in place after the move to /usr/lib`);
  }
  t.equal(await prop(c, SOCKET, 'ActiveState'), 'active', 'the socket is active');
  t.equal(await prop(c, SERVICE, 'ActiveState'), 'active', 'the service is active');
  t.equal(await prop(c, SERVICE, 'Group'), 'member-exit-audit-readers', 'and runs with the new unit');
  const counts = trailCounts(c);
  t.equal(counts.get(`${suite}-old-0`), 1, 'the line written by the old package is kept');
  const purge = await c.run(['apt-get', 'purge', '-y', '-q', 'member-exit-audit']);
  t.equal(purge.code, 0, 'purge after the upgrade');
  t.same(warnings(purge.stdout + purge.stderr), [], 'with no warning but the kept trail folder (no /lib/systemd/system left behind)');
}
