/** Run the built `member-exit-audit` command (dist/cli.js) and collect what it prints. */
import { spawn } from 'node:child_process';

export const CLI = new URL('../../dist/cli.js', import.meta.url).pathname;

/** `user`: run as that uid and gid (a test running as root plays a reader who is not the service user). */
export function cli(args: string[], opts: { env?: Record<string, string>; stdin?: string | Buffer; cwd?: string; user?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env = { PATH: process.env.PATH ?? '', TZ: 'Asia/Shanghai', ...opts.env };
    // As another user, without the NODE_OPTIONS tap adds to every child: its process info is written into .tap/, which that user may not write.
    const child =
      opts.user === undefined
        ? spawn(process.execPath, [CLI, ...args], { env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] })
        : spawn('/bin/sh', ['-c', 'unset NODE_OPTIONS; exec "$@"', 'sh', process.execPath, CLI, ...args], { env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'], uid: opts.user, gid: opts.user });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.stdin);
  });
}
