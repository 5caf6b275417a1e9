/**
 * Tamper evidence (config `audit.chain`): each line carries `prev`, the SHA-256 (hex) of the
 * previous line's bytes without its newline, across rotation. The first line ever has 64 zeros.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { trailFiles } from './siblings.js';

export const GENESIS = '0'.repeat(64);

export function lineHash(line: string | Buffer): string {
  return createHash('sha256').update(line).digest('hex');
}

/**
 * Add `prev` to each line of `text` (complete lines, each `{...}\n`), starting from `head`.
 * Returns the chained text and the new head.
 */
export function chainLines(text: string, head: string): { text: string; head: string } {
  let out = '';
  for (let start = 0; start < text.length; ) {
    const end = text.indexOf('\n', start);
    const line = `${text.slice(start, end - 1)},"prev":"${head}"}`;
    head = lineHash(line);
    out += line + '\n';
    start = end + 1;
  }
  return { text: out, head };
}

/** The tail of a file: the last `bytes` of a plain file, all of a gzip one (gzip cannot be read backwards). */
function tail(path: string, bytes: number): { data: Buffer; whole: boolean } {
  const fd = fs.openSync(path, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const head = Buffer.alloc(2);
    fs.readSync(fd, head, 0, 2, 0);
    if (head[0] === 0x1f && head[1] === 0x8b) return { data: gunzipSync(fs.readFileSync(fd)), whole: true };
    const len = Math.min(size, bytes);
    const data = Buffer.alloc(len);
    fs.readSync(fd, data, 0, len, size - len);
    return { data, whole: len === size };
  } finally {
    fs.closeSync(fd);
  }
}

/** The last complete line of a file (plain or gzip), or null when it has none. */
function lastLine(path: string): Buffer | null {
  for (let bytes = 64 * 1024; ; bytes *= 4) {
    const { data, whole } = tail(path, bytes);
    const line = lastLineIn(data);
    // Sure only when the line's start is inside what was read.
    if (whole || (line && line.byteOffset - data.byteOffset > 0)) return line;
  }
}

function lastLineIn(data: Buffer): Buffer | null {
  let end = data.length;
  if (end && data[end - 1] !== 0x0a) end = data.lastIndexOf(0x0a, end - 1) + 1; // a torn tail is not a line
  if (end <= 0) return null;
  const start = data.lastIndexOf(0x0a, end - 2) + 1;
  return data.subarray(start, end - 1);
}

/**
 * The chain's head at start: the hash of the last line of the current file, or of the newest
 * rotated file when the current one is empty or missing; GENESIS when there is no line at all.
 */
export function chainHeadAtStart(current: string): string {
  const files = trailFiles(current).reverse();
  for (const f of files) {
    const line = lastLine(f);
    if (line) return lineHash(line);
  }
  return GENESIS;
}
