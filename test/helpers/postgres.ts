/**
 * A private PostgreSQL for one test, from Debian's package binaries (/usr/lib/postgresql/N/bin):
 * its own data folder and port, trust authentication on 127.0.0.1 only, removed at teardown. As
 * root it runs as the `postgres` user (PostgreSQL refuses to run as root).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './fleet.js';
import { which } from './tools.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The newest Debian PostgreSQL's bin folder, or null. */
function binDir(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'postgres')) && existsSync(join(root, v, 'bin', 'initdb')));
  versions.sort((x, y) => Number(y) - Number(x));
  return versions[0] ? join(root, versions[0], 'bin') : null;
}

export interface Postgres {
  port: number;
  /** libpq URI of the test database. */
  uri: string;
  /** Run SQL with psql; returns its unaligned, tuples-only output. */
  sql(text: string): string;
  /** psql's path, for programs the test starts. */
  psql: string;
  /** Stop (fast shutdown: the sessions are cut) and start again on the same folder and port. */
  restart(pauseMs?: number): Promise<void>;
}

/** A running PostgreSQL with database `audit`, or null (the test skipped, or failed under CI) when it cannot be had. */
export async function postgres(t: Tap.Test): Promise<Postgres | null> {
  const bin = binDir();
  const psql = which('psql') ?? (bin && existsSync(join(bin, 'psql')) ? join(bin, 'psql') : null);
  const setpriv = which('setpriv');
  const root = process.getuid?.() === 0;
  const why = !bin ? 'Debian\'s PostgreSQL is not installed (apt-get install postgresql)' : !psql ? 'psql is not installed (apt-get install postgresql-client)' : root && !setpriv ? 'setpriv (util-linux) is needed to run PostgreSQL as the postgres user' : null;
  if (why) {
    if (process.env.CI) t.fail(`${why}: .ci/run should have installed it`);
    else t.skip(why);
    return null;
  }
  const dir = mkdtempSync(join(tmpdir(), 'mea-pg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // As root: everything PostgreSQL writes belongs to `postgres`, and it is started as that user.
  let asUser: string[] = [];
  if (root) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }));
    chownSync(dir, uid, gid);
    asUser = [setpriv!, `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--'];
  }
  const data = join(dir, 'data');
  const cmd = (argv: string[]) => [...asUser, ...argv];
  const [initdb, ...initArgs] = cmd([join(bin!, 'initdb'), '-D', data, '-U', 'mea', '--auth=trust', '-E', 'UTF8', '--locale=C']);
  execFileSync(initdb!, initArgs, { stdio: 'pipe' });
  const port = await freePort();
  let child: ChildProcess | null = null;
  let log = '';
  const start = async () => {
    const [exe, ...args] = cmd([join(bin!, 'postgres'), '-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1']);
    const c = spawn(exe!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    c.stdout!.on('data', (d) => (log += d));
    c.stderr!.on('data', (d) => (log += d));
    child = c;
    for (let i = 0; ; i++) {
      try {
        execFileSync(psql!, ['-X', '-q', '-h', '127.0.0.1', '-p', String(port), '-U', 'mea', '-d', 'postgres', '-c', 'select 1'], { stdio: 'pipe' });
        return;
      } catch {
        if (i > 150 || c.exitCode !== null) throw new Error(`PostgreSQL did not start: ${log.slice(-2000)}`);
        await sleep(100);
      }
    }
  };
  const stop = () =>
    new Promise<void>((resolve) => {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return resolve();
      c.once('exit', () => resolve());
      // SIGINT: PostgreSQL's fast shutdown (sessions are cut, what was committed stays).
      c.kill('SIGINT');
    });
  t.teardown(() => {
    const c = child as ChildProcess | null;
    c?.kill('SIGKILL');
  });
  await start();
  execFileSync(psql!, ['-X', '-q', '-h', '127.0.0.1', '-p', String(port), '-U', 'mea', '-d', 'postgres', '-c', 'CREATE DATABASE audit'], { stdio: 'pipe' });
  const uri = `postgresql://mea@127.0.0.1:${port}/audit`;
  return {
    port,
    uri,
    psql: psql!,
    sql: (text) => execFileSync(psql!, ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', uri, '-c', text], { encoding: 'utf8', maxBuffer: 1 << 30 }),
    async restart(pauseMs = 1000) {
      await stop();
      await sleep(pauseMs);
      await start();
    },
  };
}
