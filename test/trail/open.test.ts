/** src/trail/open.ts: a regular file is opened; anything else is named, and closed unread. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { openRegular, UnreadableFile } from '../../src/trail/open.js';

const refusal = async (path: string) => {
  try {
    await (await openRegular(path)).close();
    return 'opened';
  } catch (err) {
    if (!(err instanceof UnreadableFile)) throw err;
    return [err.reason, err.passOver];
  }
};

t.test('what is opened, what is refused and why, and whether a trail goes on without it', async (t) => {
  const dir = t.testdir({ file: 'x\n' });
  symlinkSync(join(dir, 'file'), join(dir, 'link'));
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  mkdirSync(join(dir, 'dir'));
  // A socket path has at most 107 bytes: this one lives in a short temporary folder.
  const short = mkdtempSync(join(tmpdir(), 'mea-open-'));
  const socket = join(short, 'socket');
  const server = createServer().listen(socket);
  await new Promise((resolve) => server.once('listening', resolve));
  t.teardown(() => (server.close(), rmSync(short, { recursive: true, force: true })));
  const trail = 'only regular files of the trail are read';
  t.equal(await refusal(join(dir, 'file')), 'opened');
  t.same(await refusal(join(dir, 'link')), ['a symbolic link', trail], 'O_NOFOLLOW: not followed, even to a regular file');
  t.same(await refusal(join(dir, 'fifo')), ['a FIFO', trail], 'O_NONBLOCK: no writer, and still no hang');
  t.same(await refusal(join(dir, 'dir')), ['a directory', trail]);
  t.same(await refusal(socket), ['a socket', trail]);
  t.same(await refusal('/dev/null'), ['a device', trail]);
  t.same(await refusal(join(dir, 'absent')), ['no such file', 'gone since the folder was listed'], 'rotated away after the listing');
  t.same(await refusal(join(dir, 'file', 'below')), ['a path through something that is not a directory', undefined]);
  writeFileSync(join(dir, 'plain'), '');
  t.equal(await refusal(join(dir, 'plain')), 'opened', 'an empty regular file');
});

t.test('a name swapped between the lstat and the open: O_NOFOLLOW and the fstat still refuse it', async (t) => {
  // The lstat is told a regular file was there; the open then meets what is there now.
  const fsp = await import('node:fs/promises');
  const swapped = await t.mockImport<typeof import('../../src/trail/open.js')>('../../src/trail/open.js', {
    'node:fs/promises': { ...fsp, lstat: async (path: string) => ({ ...(await fsp.stat(import.meta.filename)), isFile: () => true, path }) },
  });
  const dir = t.testdir({ file: 'x\n' });
  symlinkSync(join(dir, 'file'), join(dir, 'link'));
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  const reason = async (path: string) => {
    try {
      await (await swapped.openRegular(path)).close();
      return 'opened';
    } catch (err) {
      return (err as UnreadableFile).reason;
    }
  };
  t.equal(await reason(join(dir, 'link')), 'a symbolic link', 'ELOOP from O_NOFOLLOW');
  t.equal(await reason(join(dir, 'fifo')), 'a FIFO', 'opened without blocking, then refused on its fstat');
  t.equal(await reason(join(dir, 'file')), 'opened');
});
