/**
 * Rotation as packaged: by hand as root (`su` in the config drops to the service's user), and by
 * the hourly unit, which runs as that user (issue #23 item 9): under load, one SIGHUP from the
 * postrotate, the new file made by the service itself (`nocreate`, issue #19) with the service's
 * owner and mode and no `*.backup` beside it; and a symlink planted where last cycle's file goes,
 * which made every rotation fail, is removed and the rotation happens, its target untouched.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Container } from './container.js';
import { CONFIG, FILE, journal, prop, ROTATION, sighups, status, TRAIL, waitFor, type loadSteps } from './steps.js';

const STATE = '/var/lib/member-exit-audit/logrotate.status';
const CONF = '/etc/member-exit-audit/logrotate.conf';
const OWNER = 'member-exit-audit:member-exit-audit-readers 640';

/**
 * Run the hourly unit as the timer would, on a state that says the last rotation was long ago,
 * so that `daily` is due now: the unit's own rotation, with no --force.
 */
export async function rotateByUnit(c: Container): Promise<string> {
  // Once first, so that the state file exists, is the unit's, and names the trail.
  if ((await c.run(['test', '-f', STATE])).code !== 0) await c.ok(['systemctl', 'start', ROTATION]);
  await c.ok(['runuser', '-u', 'member-exit-audit', '--', 'sed', '-i', 's/" [0-9].*$/" 2000-1-1-0:0:0/', STATE]);
  await c.run(['systemctl', 'start', ROTATION]);
  return prop(c, ROTATION, 'Result');
}

/**
 * A symlink planted at `.1` by the service's user (before any rotation), pointing at the config,
 * which is root's and may hold tokens. Its target is read inside the container only: from the
 * host, the absolute link would point into the host's own /etc.
 */
export async function plantedSymlink(t: Tap.Test, c: Container): Promise<void> {
  const target = CONFIG;
  const fingerprint = () => c.ok(['sh', '-c', `sha256sum ${target}; stat -c '%U:%G %a' ${target}`]);
  const before = await fingerprint();
  await c.ok(['runuser', '-u', 'member-exit-audit', '--', 'ln', '-s', target, `${FILE}.1`]);
  const lines = readFileSync(c.path(FILE), 'utf8');
  t.equal(await rotateByUnit(c), 'success', 'with a symlink planted at .1, the hourly rotation still succeeds');
  const kind = (await c.ok(['stat', '-c', '%F', `${FILE}.1`])).trim();
  t.equal(kind, 'regular file', '.1 is now the rotated file, not the symlink');
  if (kind === 'regular file') t.equal(readFileSync(c.path(`${FILE}.1`), 'utf8'), lines, 'holding the lines that were current');
  t.match(await journal(c, ROTATION), /removing \/var\/log\/member-exit-audit\/member-exit\.ndjson\.1, not a rotated file/, 'the rotation says what it removed');
  t.equal(await fingerprint(), before, `${target} is untouched`);
}

export async function rotations(t: Tap.Test, c: Container, { underLoad }: ReturnType<typeof loadSteps>): Promise<void> {
  const noBackups = () => t.same(readdirSync(c.path(TRAIL)).filter((f) => /backup/.test(f)), [], 'no file moved aside as *.backup');
  t.match(readFileSync(c.path(CONF), 'utf8'), /^\s*nocreate$/m, 'the shipped config leaves the new file to the service');

  let before = await sighups(c);
  await underLoad('logrotate --force by hand (root, su)', async () => {
    await c.ok(['logrotate', '--force', '--state', STATE, CONF]);
  });
  t.ok(readdirSync(c.path(TRAIL)).includes('member-exit.ndjson.1'), 'logrotate made member-exit.ndjson.1');
  t.equal(await sighups(c), before + 1, "logrotate's postrotate signalled the service (one SIGHUP), as the service's user");
  t.equal((await c.ok(['stat', '-c', '%U:%G %a', FILE])).trim(), OWNER, 'the new file is the service\'s: its user, the readers\' group, 0640');
  noBackups();

  before = await sighups(c);
  await underLoad('logrotate by the hourly unit (as the service user)', async () => {
    t.equal(await rotateByUnit(c), 'success', 'the hourly rotation unit runs');
    await waitFor(async () => (await sighups(c)) === before + 1, () => status(c));
  });
  t.equal((await c.ok(['stat', '-c', '%U:%G %a', FILE, `${FILE}.1`, `${FILE}.2.gz`])).trim(), [OWNER, OWNER, OWNER].join('\n'), 'current, rotated and gzipped files: the service\'s user and the readers\' group');
  noBackups();
  t.equal(await prop(c, ROTATION, 'User'), 'member-exit-audit', 'the unit runs as the service\'s user');
}
