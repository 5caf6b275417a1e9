/** A real full disk: a tmpfs of its own, filled to its last KiB and given back. Needs root. */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
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
  // Appended 1 MiB at a time until the disk is full, then 1 KiB at a time: the first write that
  // does not fit fails, whatever else writes to the disk meanwhile (one large write retried a
  // page smaller each time could take minutes on a busy disk).
  const fd = openSync(filler, 'a');
  for (const chunk of [Buffer.alloc(1 << 20), Buffer.alloc(1024)]) {
    try {
      for (;;) writeSync(fd, chunk);
    } catch {
      // ENOSPC: on to the smaller chunk
    }
  }
  closeSync(fd);
  return () => unlinkSync(filler);
}
