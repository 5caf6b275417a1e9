/**
 * The templated units for several instances on one VM (systemd/member-exit-audit@.service and
 * .socket, docs/scaling.md): systemd-analyze verify and security on an instance, the instance's
 * own port, trail and credentials, and every hardening line of the single-instance unit kept.
 * Under a real systemd they are run by test/deb/instances.test.ts (npm run test:system).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { requireTool } from '../helpers/tools.js';

const dir = new URL('../../systemd/', import.meta.url).pathname;
const SINGLE = readFileSync(join(dir, 'member-exit-audit.service'), 'utf8');
const SERVICE = readFileSync(join(dir, 'member-exit-audit@.service'), 'utf8');
const SOCKET = readFileSync(join(dir, 'member-exit-audit@.socket'), 'utf8');

t.test('systemd-analyze verify is clean for an instance', async (t) => {
  const bin = requireTool(t, 'systemd-analyze');
  if (!bin) return;
  // As in systemd.test.ts: the packaged command does not exist here, the built CLI stands in.
  const tmp = t.testdir();
  const cli = `${process.execPath} ${new URL('../../dist/cli.js', import.meta.url).pathname}`;
  writeFileSync(join(tmp, 'member-exit-audit@.service'), SERVICE.replace(/^(ExecStartPre|ExecStart)=\/usr\/bin\/member-exit-audit /gm, `$1=${cli} `));
  writeFileSync(join(tmp, 'member-exit-audit@.socket'), SOCKET);
  // The units it names (Conflicts=) are looked up beside it.
  writeFileSync(join(tmp, 'member-exit-audit.service'), SINGLE.replace(/^(ExecStartPre|ExecStart)=\/usr\/bin\/member-exit-audit /gm, `$1=${cli} `));
  writeFileSync(join(tmp, 'member-exit-audit.socket'), readFileSync(join(dir, 'member-exit-audit.socket'), 'utf8'));
  const r = spawnSync(bin, ['verify', '--man=no', join(tmp, 'member-exit-audit@9465.service'), join(tmp, 'member-exit-audit@9465.socket')], { encoding: 'utf8' });
  t.equal(r.status, 0);
  t.equal((r.stdout + r.stderr).trim(), '', 'no warnings');
});

t.test('systemd-analyze security rates an instance as the single unit (OK band)', async (t) => {
  const bin = requireTool(t, 'systemd-analyze');
  if (!bin) return;
  const tmp = t.testdir();
  writeFileSync(join(tmp, 'member-exit-audit@.service'), SERVICE);
  const out = execFileSync(bin, ['security', '--offline=true', join(tmp, 'member-exit-audit@9465.service')], { encoding: 'utf8' });
  const m = /Overall exposure level for .*: (\d+\.\d+) (\w+)/.exec(out);
  t.comment(`systemd-analyze security member-exit-audit@9465: ${m?.[1]} ${m?.[2]}`);
  t.ok(Number(m?.[1]) <= 1.5, `exposure ${m?.[1]} <= 1.5`);
});

t.test('an instance has its own trail, admin port and credentials, and shares the callback port', async (t) => {
  for (const line of [
    'Environment=AUDIT_FILE=/var/log/member-exit-audit/%i/member-exit.ndjson',
    'Environment=ADMIN_PORT=%i',
    'LogsDirectory=member-exit-audit member-exit-audit/%i',
    'StateDirectory=member-exit-audit member-exit-audit/%i',
    'Environment=SEAL_STATE_FILE=/var/lib/member-exit-audit/%i/seal.state',
    'ReadWritePaths=/var/log/member-exit-audit/%i',
    // The config names the single instance's credentials folder; each instance sees its own there.
    'BindReadOnlyPaths=/run/credentials/member-exit-audit@%i.service:/run/credentials/member-exit-audit.service',
    'Wants=member-exit-audit@%i.socket',
    'After=network-online.target member-exit-audit@%i.socket',
    'Conflicts=member-exit-audit.service',
  ]) {
    t.match(SERVICE, new RegExp(`^${line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'), line);
  }
  t.notMatch(SERVICE, /^Requires=member-exit-audit/m, 'stopping the socket does not stop the service first (draining)');
  for (const line of ['ListenStream=127.0.0.1:8080', 'ReusePort=yes', 'FileDescriptorName=callback', 'Service=member-exit-audit@%i.service', 'Conflicts=member-exit-audit.socket']) {
    t.match(SOCKET, new RegExp(`^${line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'), line);
  }
});

t.test('every setting of the single-instance unit is kept, but for the ones an instance changes', async (t) => {
  const settings = (unit: string) => unit.split('\n').filter((l) => /^[A-Z]\w*=/.test(l));
  const changed = /^(Description|Documentation|After|Requires|Wants|LogsDirectory|StateDirectory|ReadWritePaths)=/;
  const instance = new Set(settings(SERVICE));
  t.same(settings(SINGLE).filter((l) => !changed.test(l) && !instance.has(l)), [], 'no setting of member-exit-audit.service is missing from the template');
});
