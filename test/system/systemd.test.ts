import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { requireTool } from '../helpers/tools.js';

const UNIT = new URL('../../systemd/member-exit-audit.service', import.meta.url).pathname;
const SOCKET = new URL('../../systemd/member-exit-audit.socket', import.meta.url).pathname;
const ROTATION = new URL('../../systemd/member-exit-audit-logrotate.service', import.meta.url).pathname;

const COMMAND = '/usr/bin/member-exit-audit serve';

t.test('systemd-analyze verify is clean', async (t) => {
  const bin = requireTool(t, 'systemd-analyze');
  if (!bin) return;
  // verify checks that each Exec line's program exists: /usr/bin/member-exit-audit exists once the
  // package is installed (test/deb runs verify there), so the copy verified here runs this test's
  // own Node.js and the built CLI in its place. --man=no: the man page, too, comes with the package.
  const unit = readFileSync(UNIT, 'utf8');
  t.match(unit, `\nExecStart=${COMMAND}\n`, 'the packaged command runs the service');
  const dir = t.testdir();
  const copy = join(dir, 'member-exit-audit.service');
  const cli = `${process.execPath} ${new URL('../../dist/cli.js', import.meta.url).pathname}`;
  writeFileSync(copy, unit.replace(/^(ExecStartPre|ExecStart)=\/usr\/bin\/member-exit-audit /gm, `$1=${cli} `));
  writeFileSync(join(dir, 'member-exit-audit.socket'), readFileSync(SOCKET, 'utf8'));
  const r = spawnSync(bin, ['verify', '--man=no', copy, join(dir, 'member-exit-audit.socket')], { encoding: 'utf8' });
  t.equal(r.status, 0);
  t.equal((r.stdout + r.stderr).trim(), '', 'no warnings');
});

for (const [unit, most] of [[UNIT, 1.5], [ROTATION, 2]] as const) {
  // The rotation unit scored 7.3 as root with little sandboxing (issue #23); it runs as the
  // service's user now, hardened the same way.
  t.test(`systemd-analyze security rates ${unit.split('/').pop()} ${most} or lower`, async (t) => {
    const bin = requireTool(t, 'systemd-analyze');
    if (!bin) return;
    const out = execFileSync(bin, ['security', '--offline=true', unit], { encoding: 'utf8' });
    const m = /Overall exposure level for .*: (\d+\.\d+) (\w+)/.exec(out);
    t.ok(m, 'the score is printed');
    t.comment(`systemd-analyze security: ${m?.[1]} ${m?.[2]}`);
    t.ok(Number(m?.[1]) <= most, `exposure ${m?.[1]} <= ${most}`);
    t.ok(['OK', 'SAFE'].includes(m?.[2] ?? ''), `band ${m?.[2]}`);
  });
}

t.test('the unit has what operators rely on', async (t) => {
  const unit = readFileSync(UNIT, 'utf8');
  for (const line of [
    'User=member-exit-audit',
    'Group=member-exit-audit-readers',
    'SupplementaryGroups=member-exit-audit',
    'StartLimitIntervalSec=0',
    'ExecStartPre=/usr/bin/member-exit-audit check-config\n',
    "ExecReload=/bin/sh -c 'kill -HUP $MAINPID'",
    'Restart=on-failure',
    'RestartSec=1s',
    'LogsDirectory=member-exit-audit',
    'LoadCredential=token:member-exit-audit.token',
    'Environment=MEMBER_EXIT_AUDIT_CONFIG=/etc/member-exit-audit/config.json',
    'ProtectSystem=strict',
    'ReadWritePaths=/var/log/member-exit-audit',
    'NoNewPrivileges=yes',
    'PrivateTmp=yes',
    'ProtectHome=yes',
    'CapabilityBoundingSet=\n',
    'UMask=0027',
    'SystemCallFilter=@system-service',
    'Requires=member-exit-audit.socket',
    'Environment=NODE_OPTIONS=--max-semi-space-size=8',
  ]) {
    t.ok(unit.includes(line), line.trim());
  }
  // A bad config is retried like any failure, so the service comes back once it is fixed.
  t.notMatch(unit, /^RestartPreventExitStatus=/m, 'no exit status stops the retries');
  // Reload: check-config first, in the service's mount namespace (where the credential is), as its
  // user and groups; the SIGHUP only when it passed (a failing ExecReload= line stops the rest).
  const reloads = [...unit.matchAll(/^ExecReload=(.*)$/gm)].map((m) => m[1]);
  t.equal(reloads.length, 2, 'two ExecReload= lines, run in order');
  t.match(reloads[0], /^\+\/usr\/bin\/nsenter --target=\$\{MAINPID\} --mount -- \/usr\/bin\/setpriv --reuid=member-exit-audit --regid=member-exit-audit-readers --groups=member-exit-audit .* \/usr\/bin\/member-exit-audit check-config$/, 'the first checks the config as the service would read it');
});

t.test('the rotation unit runs as the service user and needs no root', async (t) => {
  const unit = readFileSync(ROTATION, 'utf8');
  for (const line of ['User=member-exit-audit', 'Group=member-exit-audit-readers', 'SupplementaryGroups=member-exit-audit', 'CapabilityBoundingSet=', 'ReadWritePaths=/var/log/member-exit-audit', 'StateDirectory=member-exit-audit']) {
    t.match(unit, new RegExp(`^${line}$`, 'm'), line);
  }
  t.notMatch(unit, /ConditionPathExists=\/usr\/sbin\/logrotate/, 'no silent skip when logrotate is missing: the package depends on it');
});

t.test('the socket unit holds the callback port for the service, named for it', async (t) => {
  const socket = readFileSync(SOCKET, 'utf8');
  for (const line of ['ListenStream=127.0.0.1:8080', 'FileDescriptorName=callback', 'Service=member-exit-audit.service', 'WantedBy=sockets.target']) {
    t.match(socket, new RegExp(`^${line.replace(/\./g, '\\.')}$`, 'm'), line);
  }
});
