/** Read an audit file back and check every line against the published line schema. */
import { readFileSync } from 'node:fs';
import { Compile } from 'typebox/compile';
import { AuditLineSchema, type AuditLine } from '../../src/audit/line.js';

const CheckLine = Compile(AuditLineSchema);

/** Parse every line; throws on a torn or invalid line, so a caller's count is of whole lines only. */
export function readLines(file: string): AuditLine[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return parseLines(text, file);
}

export function parseLines(text: string, where = 'text'): AuditLine[] {
  if (text.length && !text.endsWith('\n')) throw new Error(`${where} does not end in a newline (torn line)`);
  return text
    .split('\n')
    .slice(0, -1)
    .map((line, i) => {
      const v: unknown = JSON.parse(line);
      if (!CheckLine.Check(v)) throw new Error(`${where}:${i + 1} does not match the line schema: ${line}`);
      return v;
    });
}
