/**
 * The audit lines of a trail that match the filters, oldest first, with every line that is not
 * one reported to `skip` (torn, too long, foreign) and every file that is not read to `warn`.
 * Shared by `query`'s output formats, so that each of them sees the same lines.
 */
import type { Readable } from 'node:stream';
import { matches, type Filters } from './filter.js';
import { describeError, UnreadableFile } from './open.js';
import { selectOf } from './prefilter.js';
import { MAX_LINE, readLines, type Line, type Select } from './reader.js';
import { judge, type TrailLine } from './shape.js';
import { visible } from '../visible.js';

/** One input: a path, or stdin (`-`) under its own name. */
export interface Source {
  /** What messages call it. */
  name: string;
  input: string | Readable;
  /** Found by name in the trail's folder: a file that is not a regular one is passed over (open.ts). */
  trail: boolean;
  /** The current file of the trail it belongs to, when several trails are read (instances on one VM: one chain each). */
  group?: string;
}

export interface ScanOptions {
  /** A line that is not an audit line: `where` is FILE:LINE. */
  skip(where: string, why: string): void;
  /** A file of the trail passed over unread. */
  warn(message: string): void;
  /** Judge lines on their raw bytes before parsing them (prefilter.ts); off only to prove it changes nothing. */
  prefilter?: boolean;
}

/** A matching line: its bytes as written (NDJSON prints them) and what they parse to. */
export interface Match {
  raw: Line;
  line: TrailLine;
}

/**
 * Every line of `sources` that `select` keeps, in order. A file of the trail that is not a regular
 * file (or was rotated away since the folder was listed) is passed over with a `warn`; any other
 * file that cannot be read, or fails midway (an I/O error, a corrupt gzip), throws UnreadableFile.
 */
export async function* trailLines(sources: readonly Source[], select: Select, warn: (message: string) => void): AsyncGenerator<Line> {
  for (const source of sources) {
    try {
      yield* readLines(source.input, source.name, select);
    } catch (err) {
      passOver(err, source, warn);
    }
  }
}

/** Warn of a file of the trail that is not read, or throw: see trailLines. */
function passOver(err: unknown, source: Source, warn: (message: string) => void): void {
  // A read that failed (an errno, a zlib code) names its file; anything else is a bug, thrown as it is.
  if (!(err instanceof UnreadableFile)) throw (err as NodeJS.ErrnoException).code === undefined ? err : new UnreadableFile(source.name, describeError(err));
  if (!(source.trail && err.passOver)) throw err;
  warn(`skipped ${visible(source.name)}: ${err.reason} (${err.passOver})`);
}

/**
 * Calls `each` with every matching audit line of `sources`, in order, until it answers false;
 * throws as trailLines does. A callback, not a generator, and each source read here rather than
 * through trailLines: an async generator costs a promise per line it hands on, which a trail
 * that a third matches (`--exit-type Kicked`) pays a third of a million times.
 */
export async function eachMatch(sources: readonly Source[], filters: Filters, opts: ScanOptions, each: (m: Match) => boolean | Promise<boolean>): Promise<void> {
  const select = opts.prefilter === false ? {} : selectOf(filters);
  const skip = (raw: Line, why: string) => opts.skip(`${visible(raw.file)}:${raw.lineNo}`, why);
  for (const source of sources) {
    try {
      for await (const raw of readLines(source.input, source.name, select)) {
        if (raw.tooLong) {
          skip(raw, `line longer than ${MAX_LINE} bytes skipped`);
          continue;
        }
        let parsed: unknown;
        try {
          parsed = JSON.parse(raw.bytes.toString('utf8'));
        } catch {
          skip(raw, 'malformed line skipped');
          continue;
        }
        const judged = judge(parsed);
        if ('foreign' in judged) skip(raw, `foreign line skipped (${judged.foreign})`);
        else if ('line' in judged && matches(filters, judged.line)) {
          const more = each({ raw, line: judged.line });
          if (!(typeof more === 'boolean' ? more : await more)) return;
        }
      }
    } catch (err) {
      passOver(err, source, opts.warn);
    }
  }
}
