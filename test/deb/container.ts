/**
 * A real Debian with a real systemd, for the package's system test: debootstrap a minimal tree
 * (kept in a cache between runs on one machine; built from nothing when the cache is empty), copy
 * it, boot the copy with systemd-nspawn and run commands inside with nsenter. The container shares
 * the host's network, so the service's 127.0.0.1:8080 is reachable from the test process.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Where bootstrapped trees are kept: MEA_ROOTS, else ~/.cache/member-exit-audit/roots. */
export const ROOTS = process.env.MEA_ROOTS ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'member-exit-audit', 'roots');

/** The Debian mirror this machine's apt uses (/etc/apt/sources.list.d/, then sources.list). */
export function debianMirror(): string {
  const dir = '/etc/apt/sources.list.d';
  const files = [
    ...(existsSync(dir) ? readdirSync(dir).sort().filter((f) => /\.(sources|list)$/.test(f)).map((f) => join(dir, f)) : []),
    '/etc/apt/sources.list',
  ];
  for (const file of files.filter((f) => existsSync(f))) {
    // deb822 (`URIs: http://.../debian`) or one-line (`deb http://.../debian bookworm main`).
    const m = /^(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(\S+\/debian)\/?(?:\s|$)/m.exec(readFileSync(file, 'utf8'));
    if (m) return m[1]!;
  }
  return 'http://deb.debian.org/debian';
}

/** The cached tree for `suite`, bootstrapped first when there is none. Returns its path. */
export function bootstrapped(suite: string, log: (s: string) => void): string {
  const tree = join(ROOTS, suite);
  if (existsSync(join(tree, 'usr/lib/systemd/systemd')) || existsSync(join(tree, 'lib/systemd/systemd'))) return tree;
  mkdirSync(ROOTS, { recursive: true });
  const partial = `${tree}.partial`;
  rmSync(partial, { recursive: true, force: true });
  const mirror = debianMirror();
  const started = Date.now();
  execFileSync('debootstrap', ['--variant=minbase', '--include=systemd,systemd-sysv,dbus', suite, partial, mirror], { stdio: ['ignore', 'ignore', 'pipe'] });
  renameSync(partial, tree);
  log(`debootstrap ${suite} from ${mirror}: ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return tree;
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export class Container {
  readonly dir: string;
  private nspawn: ChildProcess | null = null;
  private pid1 = 0;
  readonly console: string[] = [];

  /** A fresh copy of the cached tree, so that every run installs on a clean system. */
  constructor(tree: string, readonly suite: string) {
    this.dir = mkdtempSync(join(tmpdir(), `mea-${suite}-`));
    execFileSync('cp', ['-a', '--reflink=auto', `${tree}/.`, this.dir]);
  }

  async boot(): Promise<void> {
    const p = spawn('systemd-nspawn', ['-D', this.dir, '--boot', '--register=no', '--keep-unit', '--console=pipe', `--machine=mea-${this.suite}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.nspawn = p;
    p.stdout.on('data', (c: Buffer) => this.console.push(c.toString()));
    p.stderr.on('data', (c: Buffer) => this.console.push(c.toString()));
    for (let i = 0; i < 200 && !this.pid1; i++) {
      await sleep(50);
      try {
        this.pid1 = Number(execFileSync('pgrep', ['-P', String(p.pid), '-x', 'systemd'], { encoding: 'utf8' }).trim().split('\n')[0]);
      } catch {
        // not yet
      }
    }
    if (!this.pid1) throw new Error(`systemd did not start in the container: ${this.console.join('')}`);
    // `--wait` returns once boot has finished: running, or degraded (a unit that does not apply
    // in a container, such as a getty, may fail).
    // Right after PID 1 appears, systemctl may not reach it yet: ask again until it answers.
    let state = '';
    for (let i = 0; i < 300 && !['running', 'degraded'].includes(state); i++) {
      if (i) await sleep(100);
      state = (await this.run(['systemctl', 'is-system-running', '--wait'])).stdout.trim();
    }
    if (!['running', 'degraded'].includes(state)) throw new Error(`boot ended "${state}": ${this.console.join('')}`);
  }

  /** A command inside the container, as root, with a plain environment. Never throws on exit codes. */
  run(argv: string[]): Promise<Run> {
    return new Promise((resolve) => {
      const child = execFile(
        'nsenter',
        ['-t', String(this.pid1), '-m', '-u', '-i', '-n', '-p', '--', 'env', '-i', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'LANG=C.UTF-8', 'DEBIAN_FRONTEND=noninteractive', ...argv],
        { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 300000 },
        (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
      );
      // A command that exits at once may close its stdin first: writing to it then fails with EPIPE,
      // which says nothing about the command (its exit code does). Nothing is written: it is closed.
      child.stdin?.on('error', () => {});
      child.stdin?.end();
    });
  }

  /** run(), throwing with the command's output when it fails. */
  async ok(argv: string[]): Promise<string> {
    const r = await this.run(argv);
    if (r.code !== 0) throw new Error(`${argv.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }

  /** A path inside the container, seen from the host. */
  path(p: string): string {
    return join(this.dir, p);
  }

  async stop(): Promise<void> {
    const p = this.nspawn;
    if (p && p.exitCode === null && p.signalCode === null) {
      const exited = new Promise<void>((r) => p.once('exit', () => r()));
      // nspawn shuts the container down cleanly on SIGTERM; SIGKILL if that takes too long.
      p.kill('SIGTERM');
      const timer = setTimeout(() => p.kill('SIGKILL'), 15000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
