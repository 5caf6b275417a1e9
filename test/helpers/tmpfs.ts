/** A real full disk: a tmpfs of its own, filled to its last KiB and given back. Needs root. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statfsSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh tmpfs of `size`, or null (with the test skipped, or failed under CI) when it cannot be mounted. */
export function tmpfs(t: Tap.Test, size: string): string | null {
  const dir = mkdtempSync(join(tmpdir(), 'mea-tmpfs-'));
  const mnt = join(dir, 'mnt');
  mkdirSync(mnt);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mnt], { stdio: 'pipe' });
  } catch {
    // Mounting needs root (CI runs as root).
    if (process.env.CI) t.fail('cannot mount a tmpfs in CI');
    else t.skip('cannot mount a tmpfs here (not root)');
    rmSync(dir, { recursive: true, force: true });
    return null;
  }
  t.teardown(() => {
    execFileSync('umount', ['-l', mnt]);
    rmSync(dir, { recursive: true, force: true });
  });
  return mnt;
}

/** Fill the filesystem of `mnt` to its last KiB; returns a function that gives the space back. */
export function fill(mnt: string): () => void {
  const filler = join(mnt, 'filler');
  const { bavail, bsize } = statfsSync(mnt);
  let size = bavail * bsize - 1024;
  for (;;) {
    try {
      writeFileSync(filler, Buffer.alloc(size));
      break;
    } catch {
      size -= 4096;
    }
  }
  return () => unlinkSync(filler);
}
