/** The files `query` and `verify` read: the FILEs given (or stdin), else the configured audit file and its rotated siblings. */
import { dirname } from 'node:path';
import { trailFiles } from '../audit/siblings.js';
import { UsageError } from '../options.js';
import { describeError, openRegular, UnreadableFile } from './open.js';
import type { Source } from './scan.js';
import { visible } from '../visible.js';

/**
 * The trail named by the config (`--config`, MEMBER_EXIT_AUDIT_CONFIG, AUDIT_FILE). The config
 * module (TypeBox) is loaded only here, when no FILE is given, so `query FILE` starts light.
 */
async function configuredTrail(configFile: string | undefined): Promise<string[]> {
  const file = (await import('../config.js')).loadConfig({ file: configFile, readTokens: false }).audit.file;
  try {
    return trailFiles(file);
  } catch (err) {
    throw new UsageError(`cannot read ${visible(dirname(file))}: ${describeError(err)} (the folder of the audit file)`);
  }
}

/** What to do instead, after `cannot read FILE: <reason>`, for a FILE named on the command line. */
const HINTS: Record<string, string> = {
  'a symbolic link': 'name the file it points to',
  'a FIFO': 'to stream it, give - and redirect: - < FILE',
};

/**
 * The sources to read, in order: each FILE given (`-` is stdin), or the configured trail. Every
 * FILE given is opened (and closed) first, so that one that cannot be read stops the command with
 * a UsageError naming it before a line is printed; like the trail's own files, a FILE must be a
 * regular file itself, not a symlink or a FIFO (a shell glob over the trail's folder picks up
 * whatever the service user put there: src/trail/open.ts).
 */
export async function sourcesOf(files: string[], configFile: string | undefined): Promise<Source[]> {
  if (!files.length) {
    const trail = await configuredTrail(configFile);
    if (!trail.length) throw new UsageError('no audit file found (give FILEs, or --config)');
    return trail.map((file) => ({ name: file, input: file, trail: true }));
  }
  for (const file of files) {
    if (file === '-') continue;
    try {
      await (await openRegular(file)).close();
    } catch (err) {
      throw err instanceof UnreadableFile ? unreadable(err) : err;
    }
  }
  return files.map((file) => (file === '-' ? { name: '(stdin)', input: process.stdin, trail: false } : { name: file, input: file, trail: false }));
}

/** `cannot read FILE: no such file`, with what to do instead where there is something. */
export function unreadable(err: UnreadableFile): UsageError {
  const hint = HINTS[err.reason];
  return new UsageError(`cannot read ${visible(err.file)}: ${err.reason}${hint ? ` (${hint.replace('FILE', visible(err.file))})` : ''}`);
}
