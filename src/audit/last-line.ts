/**
 * The last complete line of the trail at start, when it is short: the sealer asks whether it is
 * the seal that closed the epoch the state is still in (a kill between that seal's write and the
 * key's evolution). A longer line is no seal, so only the last few KiB are ever read.
 */
import fs, { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { trailFiles } from './siblings.js';

/** Longer than any seal line (about 300 bytes). */
const TAIL = 4096;

/** The complete line at the end of `buf` (which ends in a newline), if `buf` holds its start. */
function lastOf(buf: Buffer, whole: boolean): string | null {
  const end = buf.lastIndexOf(0x0a);
  if (end === -1) return null;
  const start = end === 0 ? -1 : buf.lastIndexOf(0x0a, end - 1);
  if (start === -1 && !whole) return null;
  return buf.subarray(start + 1, end).toString('utf8');
}

function plainTail(path: string): { buf: Buffer; whole: boolean } {
  const fd = fs.openSync(path, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const len = Math.min(size, TAIL);
    const buf = Buffer.alloc(len);
    fs.readSync(fd, buf, 0, len, size - len);
    return { buf, whole: len === size };
  } finally {
    fs.closeSync(fd);
  }
}

async function gzipTail(path: string): Promise<{ buf: Buffer; whole: boolean }> {
  let tail = Buffer.alloc(0);
  let total = 0;
  for await (const chunk of createReadStream(path).pipe(createGunzip()) as AsyncIterable<Buffer>) {
    total += chunk.length;
    tail = Buffer.concat([tail, chunk]);
    if (tail.length > TAIL) tail = tail.subarray(tail.length - TAIL);
  }
  return { buf: tail, whole: total === tail.length };
}

/** The last complete line of the current file, or of the newest rotated one when it is empty; null when none or too long. */
export async function lastTrailLine(current: string): Promise<string | null> {
  for (const f of trailFiles(current).reverse()) {
    const head = Buffer.alloc(2);
    const fd = fs.openSync(f, 'r');
    let n: number;
    try {
      n = fs.readSync(fd, head, 0, 2, 0);
    } finally {
      fs.closeSync(fd);
    }
    if (n === 0) continue;
    const { buf, whole } = head[0] === 0x1f && head[1] === 0x8b ? await gzipTail(f) : plainTail(f);
    // Only a torn tail (no newline at all): no line here, as the chain's head sees it.
    if (buf.lastIndexOf(0x0a) === -1 && whole) continue;
    return lastOf(buf.subarray(0, buf.lastIndexOf(0x0a) + 1), whole);
  }
  return null;
}
