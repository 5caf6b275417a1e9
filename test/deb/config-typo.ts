/**
 * No config typo closes the port (issue #22 item 1), under load: a broken config and `systemctl
 * restart` fail the restart where the operator sees it, the service is tried again every second
 * for longer than the default start limit would have allowed (5 starts in 10 s, after which the
 * socket failed and every callback was refused), the socket keeps listening and queueing, and the
 * service comes back by itself once the config is fixed, or at once with `systemctl restart`. A
 * bad `systemctl reload` fails and keeps the running process and config.
 */
import { writeFileSync } from 'node:fs';
import type { Container } from './container.js';
import { CONFIG, journal, type loadSteps, prop, recordOf, SERVICE, sighups, SOCKET, status, waitFor } from './steps.js';

/** More than the default StartLimitBurst (5): reaching it proves starts are not rate-limited. */
const RETRIES = 6;

export async function configTypos(t: Tap.Test, c: Container, { underLoad }: ReturnType<typeof loadSteps>): Promise<void> {
  const good = await c.ok(['cat', CONFIG]);
  const write = (text: string) => writeFileSync(c.path(CONFIG), text);
  // Every state the socket is seen in while the service is down: it must never leave `active`.
  const socketStates = new Set<string>();
  const retried = async (before: number) => {
    await waitFor(async () => {
      socketStates.add(await prop(c, SOCKET, 'ActiveState'));
      return Number(await prop(c, SERVICE, 'NRestarts')) >= before + RETRIES;
    }, () => status(c), 60000);
  };

  // systemd's own "Starting ..." lines: every start, whoever asked for it.
  const starts = async () => (await journal(c)).split(`Starting ${SERVICE}`).length - 1;
  await underLoad('bad JSON, restart; fixed, back by itself', async () => {
    const startsBefore = await starts();
    write(good.replace(/^\{/, '{ "audit": '));
    const restart = await c.run(['systemctl', 'restart', SERVICE]);
    t.not(restart.code, 0, 'systemctl restart with a bad config fails');
    t.match(restart.stderr, /failed/, `and says so: ${restart.stderr.trim().split('\n')[0]}`);
    t.match(await journal(c), /not valid JSON/, 'the journal says why (check-config before the start)');
    await retried(Number(await prop(c, SERVICE, 'NRestarts')));
    write(good);
    // No command: the next retry starts it.
    await waitFor(async () => (await prop(c, SERVICE, 'ActiveState')) === 'active', () => status(c));
    // While a retry was pending, the connections that kept arriving started nothing extra.
    // NRestarts counts automatic restarts since the last explicit start: the operator's restart.
    const restarts = Number(await prop(c, SERVICE, 'NRestarts'));
    t.equal((await starts()) - startsBefore, restarts + 1, `${restarts + 1} starts: the operator's restart and ${restarts} retries, none from the socket`);
  });
  t.same([...socketStates], ['active'], `the socket stayed active through ${RETRIES}+ failed starts`);

  socketStates.clear();
  await underLoad('unknown key, restart; fixed, systemctl restart', async () => {
    write(good.replace(/^\{/, '{ "listenPort": 8080,'));
    t.not((await c.run(['systemctl', 'restart', SERVICE])).code, 0, 'systemctl restart with an unknown key fails');
    t.match(await journal(c), /\/listenPort: unknown key/, 'the journal names the key');
    await retried(Number(await prop(c, SERVICE, 'NRestarts')));
    write(good);
    await c.ok(['systemctl', 'restart', SERVICE]);
    t.equal(await prop(c, SERVICE, 'ActiveState'), 'active', 'fixed: one systemctl restart brings it back');
  });
  t.same([...socketStates], ['active'], 'the socket stayed active');

  await underLoad('bad reload keeps the running config', async () => {
    const pid = await prop(c, SERVICE, 'MainPID');
    const signalled = await sighups(c);
    write(good.replace(/^\{/, '{ "listenPort": 8080,'));
    const reload = await c.run(['systemctl', 'reload', SERVICE]);
    t.not(reload.code, 0, 'systemctl reload with a bad config fails (check-config first, like nginx -t)');
    t.equal(await sighups(c), signalled, 'and sends no SIGHUP');
    t.equal(await prop(c, SERVICE, 'MainPID'), pid, 'the running process stays');
    t.equal(await prop(c, SERVICE, 'ActiveState'), 'active', 'and stays active');
    write(good);
    const before = await sighups(c);
    await c.ok(['systemctl', 'reload', SERVICE]);
    await waitFor(async () => (await sighups(c)) === before + 1, () => status(c));
    t.pass('a good reload checks, then sends SIGHUP');
    const reloaded = (await journal(c)).split('\n').filter((l) => l.includes('config reloaded')).at(-1);
    t.match(recordOf(reloaded ?? '{}'), { tokens: { 1400000000: 1 } }, 'whose re-read found the credential token');
  });
}
