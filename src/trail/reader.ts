/**
 * Stream the lines of audit files, plain or gzip, in constant memory. With a needle, only lines
 * that contain it are handed out: the byte search runs over whole chunks (Buffer.indexOf), so the
 * lines that cannot match are never cut out or parsed. A `keep` test on the raw bytes drops more
 * (src/trail/prefilter.ts) before a line is handed out.
 */
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { openRegular } from './open.js';

const NL = 0x0a;
const CHUNK = 1 << 20;
/**
 * Longest line handed out. The service never writes one past ~40 KB; a longer one is foreign (or
 * hostile: a gzip of one 512 MiB line) and is reported as too long and skipped, in linear time
 * and without being held in memory.
 */
export const MAX_LINE = 1 << 20;

export interface Line {
  /** The line's bytes, without its newline (empty when `tooLong`). */
  bytes: Buffer;
  file: string;
  /** 1-based. */
  lineNo: number;
  /** The line was longer than MAX_LINE and was skipped. */
  tooLong?: true;
}

/** Which lines to hand out: a cheap, exact judgement on the raw bytes, made before any parse. */
export interface Select {
  /** Bytes every line handed out contains, searched over whole chunks. */
  needle?: Buffer;
  /** Whether the line `buf[start, end)` may match: false only when it cannot. */
  keep?: (buf: Buffer, start: number, end: number) => boolean;
}

/** Gzip is told by its magic bytes, so `.1` holding gzip or `.gz` holding text both read right. */
async function* decoded(input: Readable): AsyncGenerator<Buffer> {
  const it = input[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) return;
  const head = first.value as Buffer;
  if (head[0] === 0x1f && head[1] === 0x8b) {
    const gunzip = createGunzip({ chunkSize: CHUNK });
    const feed = (async () => {
      gunzip.write(head);
      for (let r = await it.next(); !r.done; r = await it.next()) {
        if (!gunzip.write(r.value)) await new Promise((res) => gunzip.once('drain', res));
      }
      gunzip.end();
    })();
    feed.catch((err: Error) => gunzip.destroy(err));
    yield* gunzip as AsyncIterable<Buffer>;
    await feed;
  } else {
    yield head;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value as Buffer;
  }
}

function countNewlines(buf: Buffer, from: number, to: number): number {
  let n = 0;
  for (let i = buf.indexOf(NL, from); i !== -1 && i < to; i = buf.indexOf(NL, i + 1)) n++;
  return n;
}

/**
 * Lines of one source (a path, opened only if it is a regular file: src/trail/open.ts), optionally
 * only those `select` keeps. A last line without a newline (a torn tail, or a file being written)
 * is handed out too; the caller decides what it is.
 */
export async function* readLines(source: string | Readable, name: string, select: Select = {}): AsyncGenerator<Line> {
  const input = typeof source === 'string' ? (await openRegular(source)).createReadStream({ highWaterMark: CHUNK }) : source;
  const { needle, keep } = select;
  /** A line joined from pieces of several chunks: does it hold the needle and pass `keep`? */
  const wanted = (buf: Buffer, start: number, end: number) =>
    (!needle || buf.subarray(start, end).includes(needle)) && (!keep || keep(buf, start, end));
  // The start of a line that runs past a chunk: its pieces, not one growing Buffer (which copied
  // the whole line again for every chunk: quadratic on a long line).
  let carry: Buffer[] = [];
  let carryLen = 0;
  let skipping = false;
  let lineNo = 0;
  const tooLong = (): Line => ({ bytes: Buffer.alloc(0), file: name, lineNo, tooLong: true });
  for await (const chunk of decoded(input)) {
    let start = 0;
    if (skipping || carryLen) {
      const nl = chunk.indexOf(NL);
      if (nl === -1) {
        if (!skipping) {
          carry.push(Buffer.from(chunk));
          carryLen += chunk.length;
          if (carryLen > MAX_LINE) [skipping, carry, carryLen] = [true, [], 0];
        }
        continue;
      }
      lineNo++;
      if (skipping || carryLen + nl > MAX_LINE) yield tooLong();
      else {
        const line = Buffer.concat([...carry, chunk.subarray(0, nl)]);
        if (wanted(line, 0, line.length)) yield { bytes: line, file: name, lineNo };
      }
      [skipping, carry, carryLen] = [false, [], 0];
      start = nl + 1;
    }
    const last = chunk.lastIndexOf(NL);
    if (last < start) {
      carry = [Buffer.from(chunk.subarray(start))];
      carryLen = carry[0]!.length;
      continue;
    }
    if (needle) {
      let pos = start;
      for (let hit = chunk.indexOf(needle, pos); hit !== -1 && hit < last; hit = chunk.indexOf(needle, pos)) {
        const lineStart = hit === 0 ? 0 : chunk.lastIndexOf(NL, hit - 1) + 1;
        const lineEnd = chunk.indexOf(NL, hit);
        lineNo += countNewlines(chunk, pos, lineStart) + 1;
        if (!keep || keep(chunk, lineStart, lineEnd)) yield { bytes: chunk.subarray(lineStart, lineEnd), file: name, lineNo };
        pos = lineEnd + 1;
      }
      lineNo += countNewlines(chunk, pos, last + 1);
    } else {
      for (let pos = start, nl = chunk.indexOf(NL, pos); nl !== -1 && nl <= last; pos = nl + 1, nl = chunk.indexOf(NL, pos)) {
        lineNo++;
        if (!keep || keep(chunk, pos, nl)) yield { bytes: chunk.subarray(pos, nl), file: name, lineNo };
      }
    }
    carry = last + 1 < chunk.length ? [Buffer.from(chunk.subarray(last + 1))] : [];
    carryLen = carry.length ? carry[0]!.length : 0;
  }
  if (skipping || carryLen) {
    lineNo++;
    if (skipping) yield tooLong();
    else {
      const line = Buffer.concat(carry);
      if (wanted(line, 0, line.length)) yield { bytes: line, file: name, lineNo };
    }
  }
}
