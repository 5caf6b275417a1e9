/** Run the built `member-exit-audit` command (dist/cli.js) and collect what it prints. */
import { spawn } from 'node:child_process';

export const CLI = new URL('../../dist/cli.js', import.meta.url).pathname;

export function cli(args: string[], opts: { env?: Record<string, string>; stdin?: string | Buffer; cwd?: string } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', TZ: 'Asia/Shanghai', ...opts.env }, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.stdin);
  });
}
