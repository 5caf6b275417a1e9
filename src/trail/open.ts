/**
 * Opening a file of the trail for reading, only if it is a regular file itself (issue #23 item 4).
 * The service user can plant anything in the trail's folder: a symlink `member-exit.ndjson.7` to a
 * file only root reads (root's `query` printed its lines), a FIFO (query and verify hung in open),
 * a directory (query failed before it read the current file). So the last component is opened
 * with O_NOFOLLOW (a symlink fails with ELOOP) and O_NONBLOCK (a FIFO opens at once, writer or
 * not), and the open file is fstat'ed before a byte is read: what is not a regular file is closed
 * unread. An lstat first keeps devices from being opened at all (opening one can act: a tape
 * rewinds); the fstat is what holds when the name is swapped between the two.
 */
import { constants, type Stats } from 'node:fs';
import { lstat, open, type FileHandle } from 'node:fs/promises';

// O_NOCTTY: a terminal device swapped in after the lstat does not become our controlling terminal.
const FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;
const NOT_REGULAR = 'only regular files of the trail are read';

/** A file that was not read, and why, in words a person reads after the file's name. */
export class UnreadableFile extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
    /**
     * Set when a trail found by name goes on without the file, saying why: it is not a regular
     * file, or it was rotated away after the folder was listed.
     */
    readonly passOver?: string,
  ) {
    super(`${file}: ${reason}`);
  }
}

const ERRNO: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ELOOP: 'a symbolic link',
  EISDIR: 'a directory',
  ENOTDIR: 'a path through something that is not a directory',
  EIO: 'an I/O error',
  Z_DATA_ERROR: 'not valid gzip data',
  Z_BUF_ERROR: 'gzip data cut short',
};

/** What a failed read or open says about a file: `no such file`, `permission denied`, or the error's code. */
export function describeError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return (e.code && ERRNO[e.code]) ?? e.code ?? e.message;
}

/** A regular file at `path`, opened for reading; throws UnreadableFile for anything else. */
export async function openRegular(path: string): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    const link = await lstat(path);
    if (!link.isFile()) throw new UnreadableFile(path, kindOf(link), NOT_REGULAR);
    handle = await open(path, FLAGS);
  } catch (err) {
    if (err instanceof UnreadableFile) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    // ELOOP, ENXIO: swapped for a symlink or a socket since the lstat.
    const passOver = code === 'ELOOP' || code === 'ENXIO' ? NOT_REGULAR : code === 'ENOENT' ? 'gone since the folder was listed' : undefined;
    throw new UnreadableFile(path, code === 'ENXIO' ? 'a socket' : describeError(err), passOver);
  }
  const stat = await handle.stat();
  if (stat.isFile()) return handle;
  await handle.close();
  throw new UnreadableFile(path, kindOf(stat), NOT_REGULAR);
}

/** What a file that is not a regular one is, in a word or two. */
function kindOf(stat: Stats): string {
  if (stat.isSymbolicLink()) return 'a symbolic link';
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isDirectory()) return 'a directory';
  return stat.isSocket() ? 'a socket' : 'a device';
}
