/** File chores of the writer that run only when the file is opened. */
import fs from 'node:fs';

/** Most bytes read backwards per step when looking for the last newline of a torn file. */
const TAIL_CHUNK = 64 * 1024;

/**
 * A file that does not end in `\n` ends in a line that was never acknowledged (a crash mid-write):
 * cut it back to the last newline. Returns the number of bytes cut (0 when the file was whole).
 */
export function cutTornTail(fd: number): number {
  const size = fs.fstatSync(fd).size;
  if (size === 0) return 0;
  const buf = Buffer.alloc(Math.min(TAIL_CHUNK, size));
  let end = size;
  while (end > 0) {
    const len = Math.min(buf.length, end);
    fs.readSync(fd, buf, 0, len, end - len);
    const nl = buf.lastIndexOf(0x0a, len - 1);
    if (nl === len - 1 && end === size) return 0;
    if (nl >= 0) {
      end = end - len + nl + 1;
      break;
    }
    end -= len;
  }
  fs.ftruncateSync(fd, end);
  return size - end;
}

/** fsync a directory, so that a file just created in it survives a crash. */
export function syncDir(dir: string): void {
  const dfd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(dfd);
  } finally {
    fs.closeSync(dfd);
  }
}
