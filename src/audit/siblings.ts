/**
 * The audit file and its rotated siblings, oldest first: `member-exit.ndjson-20261125.gz`,
 * `member-exit.ndjson-20261126` (logrotate dateext), then `.3.gz`, `.2.gz`, `.1` (numbered), then
 * the current file. Gzip is recognised by content, not by name. Used by the writer (the chain's
 * head at start) and by query/verify.
 */
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

// Each repetition of `(?:[-_]?\d)` takes exactly one digit, so a name is matched in linear time
// whatever it holds (the older `(?:[-_]?\d+)*` backtracked exponentially on `-2026112600...0x`).
const ROTATED = /^(?:\.(\d+)|-(\d{8}(?:[-_]?\d)*))(?:\.gz)?$/;

/** Sort key: dated siblings by date, then numbered ones from the highest number down, then the current file. */
function rank(suffix: string): [number, string | number] | null {
  if (suffix === '') return [2, 0];
  const m = ROTATED.exec(suffix);
  if (!m) return null;
  return m[1] !== undefined ? [1, -Number(m[1])] : [0, m[2]!];
}

/** The current file's path and every rotated sibling in its folder, oldest first (only those that exist). */
export function trailFiles(current: string): string[] {
  const dir = dirname(current);
  const base = basename(current);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    // No folder, or a file where the folder should be: no trail here (the open reports the path).
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw err;
  }
  const ranked = names
    .filter((n) => n.startsWith(base))
    .map((n) => ({ n, r: rank(n.slice(base.length)) }))
    .filter((x): x is { n: string; r: [number, string | number] } => x.r !== null);
  ranked.sort((a, b) => a.r[0] - b.r[0] || (a.r[1] < b.r[1] ? -1 : a.r[1] > b.r[1] ? 1 : 0));
  return ranked.map((x) => join(dir, x.n));
}
