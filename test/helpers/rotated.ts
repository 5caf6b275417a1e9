/** Read every audit line in a folder: the current file and its rotated siblings, plain or gzip. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { AuditLine } from '../../src/audit/line.js';
import { parseLines } from './lines.js';

export function readAllLines(dir: string, prefix: string): { lines: AuditLine[]; files: string[] } {
  const files = readdirSync(dir).filter((f) => f.startsWith(prefix)).sort();
  const lines = files.flatMap((f) => {
    const raw = readFileSync(join(dir, f));
    return parseLines((f.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8'), f);
  });
  return { lines, files };
}

/** Members that occur other than exactly once, and members acknowledged but missing. */
export function compareMembers(acked: string[], lines: AuditLine[]): { missing: string[]; duplicated: string[]; unexpected: string[] } {
  const counts = new Map<string, number>();
  for (const l of lines) counts.set(l.member, (counts.get(l.member) ?? 0) + 1);
  const ackedSet = new Set(acked);
  return {
    missing: acked.filter((m) => !counts.has(m)),
    duplicated: [...counts].filter(([, n]) => n > 1).map(([m]) => m),
    unexpected: [...counts.keys()].filter((m) => !ackedSet.has(m)),
  };
}
