/**
 * Tamper evidence (config `audit.chain`): each line carries `prev`, the SHA-256 (hex) of the
 * previous line's bytes without its newline, across rotation. The first line ever has 64 zeros.
 */
import { createHash, hash } from 'node:crypto';
import fs, { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { trailFiles } from './siblings.js';

export const GENESIS = '0'.repeat(64);

/** SHA-256 (hex) of a line; one-shot `crypto.hash`, a quarter of a Hash object's cost per line (line.ts). */
export function lineHash(line: string | Buffer): string {
  return hash('sha256', line, 'hex');
}

const NL = 0x0a;
const PREV = Buffer.from(',"prev":"');
const CLOSE = Buffer.from('"}\n');

/**
 * Add `prev` to each line of `lines` (complete lines, each `{...}\n`), starting from `head`, in
 * bytes: no string is decoded or encoded again, and each line is hashed where it lies in the
 * output (with the chain on by default, every line pays this). Returns the chained bytes and the
 * new head.
 */
export function chainBuffer(lines: Buffer, head: string): { buf: Buffer; head: string } {
  let n = 0;
  for (let at = lines.indexOf(NL); at !== -1; at = lines.indexOf(NL, at + 1)) n++;
  // Each line loses its closing `}` and gains `,"prev":"<64 hex>"}`.
  const out = Buffer.allocUnsafe(lines.length + n * (PREV.length + 64 + CLOSE.length - 2));
  let o = 0;
  for (let start = 0; start < lines.length; ) {
    const end = lines.indexOf(NL, start);
    const from = o;
    o += lines.copy(out, o, start, end - 1);
    o += PREV.copy(out, o);
    o += out.write(head, o, 'latin1');
    o += CLOSE.copy(out, o);
    head = lineHash(out.subarray(from, o - 1));
    start = end + 1;
  }
  return { buf: out.subarray(0, o), head };
}

/** chainBuffer for text: the chained text and the new head. */
export function chainLines(text: string, head: string): { text: string; head: string } {
  const r = chainBuffer(Buffer.from(text), head);
  return { text: r.buf.toString(), head: r.head };
}

/**
 * The chain's head as the writer keeps it: each write chains its lines on from the head and marks
 * where it began, so that a write that fails takes its links back with it.
 */
export class ChainHead {
  private before: string;

  constructor(public head: string) {
    this.before = head;
  }

  /** `lines` (complete lines) with `prev` on each line, chained on from the head. */
  apply(lines: string | Buffer): Buffer {
    let out: Buffer;
    ({ buf: out, head: this.head } = chainBuffer(typeof lines === 'string' ? Buffer.from(lines) : lines, this.head));
    return out;
  }

  /** A write begins: a rollback returns here. */
  mark(): void {
    this.before = this.head;
  }

  /** The write since the mark failed and was cut back: so are its links. */
  rollback(): void {
    this.head = this.before;
  }
}

/** Bytes read at a time, forwards and backwards: all the memory finding the head takes. */
const CHUNK = 64 * 1024;

/**
 * The hash of the last complete line of a gzip file, streamed: a running hash covers a line that
 * spans chunks, so neither a 1 GB file nor a 512 MiB line is ever held (issue #12 item 6:
 * gunzipSync took 2.2 GB, and a file over 4 GiB kept the service from starting).
 */
async function lastLineHashGzip(path: string): Promise<string | null> {
  let last: string | null = null;
  let pending = createHash('sha256');
  for await (const chunk of createReadStream(path).pipe(createGunzip({ chunkSize: CHUNK })) as AsyncIterable<Buffer>) {
    const lastNl = chunk.lastIndexOf(NL);
    if (lastNl === -1) {
      pending.update(chunk);
      continue;
    }
    const prevNl = lastNl === 0 ? -1 : chunk.lastIndexOf(NL, lastNl - 1);
    if (prevNl === -1) last = pending.update(chunk.subarray(0, lastNl)).digest('hex');
    else last = lineHash(chunk.subarray(prevNl + 1, lastNl));
    pending = createHash('sha256').update(chunk.subarray(lastNl + 1));
  }
  return last;
}

/** The hash of the last complete line of a plain file: found by reading backwards, hashed forwards. */
function lastLineHashPlain(fd: number, size: number): string | null {
  const buf = Buffer.alloc(CHUNK);
  /** The offset just past the last newline before `end`, or -1 when there is none. */
  const newlineBefore = (end: number): number => {
    while (end > 0) {
      const len = Math.min(CHUNK, end);
      fs.readSync(fd, buf, 0, len, end - len);
      const at = buf.subarray(0, len).lastIndexOf(NL);
      if (at !== -1) return end - len + at + 1;
      end -= len;
    }
    return -1;
  };
  const end = newlineBefore(size); // past the last newline: a torn tail after it is not a line
  if (end <= 0) return null;
  const start = Math.max(0, newlineBefore(end - 1));
  const hash = createHash('sha256');
  for (let pos = start; pos < end - 1; ) {
    const n = fs.readSync(fd, buf, 0, Math.min(CHUNK, end - 1 - pos), pos);
    hash.update(buf.subarray(0, n));
    pos += n;
  }
  return hash.digest('hex');
}

async function lastLineHash(path: string): Promise<string | null> {
  const fd = fs.openSync(path, 'r');
  let gzip: boolean;
  try {
    const head = Buffer.alloc(2);
    fs.readSync(fd, head, 0, 2, 0);
    gzip = head[0] === 0x1f && head[1] === 0x8b;
    if (!gzip) return lastLineHashPlain(fd, fs.fstatSync(fd).size);
  } finally {
    fs.closeSync(fd);
  }
  return lastLineHashGzip(path);
}

/**
 * The chain's head at start: the hash of the last line of the current file, or of the newest
 * rotated file when the current one is empty or missing; GENESIS when there is no line at all.
 */
export async function chainHeadAtStart(current: string): Promise<string> {
  const files = trailFiles(current).reverse();
  for (const f of files) {
    const hash = await lastLineHash(f);
    if (hash) return hash;
  }
  return GENESIS;
}
