/**
 * Faults that cannot be made real here, injected by replacing node:fs under the writer
 * (t.mockImport). The file module is mocked explicitly and handed to the writer: a module already
 * loaded unmocked is not mocked again below another.
 */
import fs from 'node:fs';

type WriterModule = typeof import('../../src/audit/writer.js');
type ServiceModule = typeof import('../../src/service.js');
type WriteCb = (e: NodeJS.ErrnoException | null, n: number) => void;

/** The writer module, its node:fs patched. */
export async function writerWithFs(t: Tap.Test, patch: Partial<typeof fs>): Promise<WriterModule> {
  const patched = { ...fs, ...patch };
  const nodeFs = { 'node:fs': { ...patched, default: patched } };
  const file = await t.mockImport('../../src/audit/file.js', nodeFs);
  return t.mockImport<WriterModule>('../../src/audit/writer.js', { ...nodeFs, '../../src/audit/file.js': file });
}

/** The service module with that writer. */
export async function serviceWithFs(t: Tap.Test, patch: Partial<typeof fs>): Promise<ServiceModule> {
  const writer = await writerWithFs(t, patch);
  return t.mockImport<ServiceModule>('../../src/service.js', { '../../src/audit/writer.js': writer });
}

/** A `write` that fails with EIO while `failing()`, and writes for real otherwise. */
export function eioWhile(failing: () => boolean): typeof fs.write {
  return ((fd: number, buf: Buffer, off: number, len: number, pos: null, cb: WriteCb) => {
    if (failing()) return process.nextTick(cb, Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' }), 0);
    fs.write(fd, buf, off, len, pos, cb);
  }) as typeof fs.write;
}
