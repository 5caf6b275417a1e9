/** System tools the system-level tests drive for real. .ci/run installs them; elsewhere a test without them is skipped, saying why. */
import { execFileSync } from 'node:child_process';

export function which(cmd: string): string | null {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8', env: { PATH: `${process.env.PATH}:/usr/sbin:/sbin` } }).trim() || null;
  } catch {
    return null;
  }
}

/** The tool's path; or null after failing (in CI, where .ci/run must have installed it) or skipping the test. */
export function requireTool(t: Tap.Test, cmd: string): string | null {
  const path = which(cmd);
  if (path) return path;
  if (process.env.CI) t.fail(`${cmd} is not installed: .ci/run should have installed it`);
  else t.skip(`${cmd} is not installed (apt-get install ${cmd})`);
  return null;
}
