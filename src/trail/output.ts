/** Buffered writes to stdout that respect back-pressure and end quietly when the reader goes away (`| head`). */
import type { Writable } from 'node:stream';

const FLUSH_AT = 256 * 1024;

export class Output {
  private parts: (string | Buffer)[] = [];
  private size = 0;
  /** The reader closed the pipe: stop producing. */
  closed = false;

  constructor(private readonly out: Writable) {
    out.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') this.closed = true;
      else throw err;
    });
  }

  /** A Buffer is copied: a line is a view into a 1 MiB read chunk, which it would otherwise keep alive. */
  async write(s: string | Buffer): Promise<void> {
    this.parts.push(typeof s === 'string' ? s : Buffer.from(s));
    this.size += s.length;
    if (this.size >= FLUSH_AT) await this.flush();
  }

  async flush(): Promise<void> {
    if (!this.parts.length || this.closed) return;
    const data = Buffer.concat(this.parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
    this.parts = [];
    this.size = 0;
    if (!this.out.write(data)) await new Promise<void>((resolve) => {
      const done = () => (this.out.off('drain', done), this.out.off('error', done), resolve());
      this.out.once('drain', done);
      this.out.once('error', done);
    });
  }
}
