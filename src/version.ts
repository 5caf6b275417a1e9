/**
 * This build's version: package.json's, read once. The file sits one folder up from both src/ (tests)
 * and dist/ (the built service and the installed package), so one path serves every way of running.
 */
import { readFileSync } from 'node:fs';

function read(): string {
  try {
    const v = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown }).version;
    return typeof v === 'string' ? v : 'unknown';
  } catch {
    return 'unknown';
  }
}

export const VERSION = read();
