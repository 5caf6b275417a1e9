/**
 * The files `query` and `verify` read: the FILEs given (or stdin), else the configured audit file
 * and its rotated siblings, and those of every instance beside it.
 */
import { existsSync, readdirSync, type Dirent } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { trailFiles } from '../audit/siblings.js';
import { UsageError } from '../options.js';
import { describeError, openRegular, UnreadableFile } from './open.js';
import type { Source } from './scan.js';
import { visible } from '../visible.js';

/**
 * The trails named by the config (`--config`, MEMBER_EXIT_AUDIT_CONFIG, AUDIT_FILE): the audit
 * file's, then one per instance on the same VM, whose file of the same name is in a folder beside
 * it (`/var/log/member-exit-audit/<instance>/member-exit.ndjson`: systemd/member-exit-audit@.service,
 * docs/scaling.md). Each trail is its files, oldest first. The config module (TypeBox) is loaded
 * only here, when no FILE is given, so `query FILE` starts light.
 */
async function configuredTrails(configFile: string | undefined): Promise<{ current: string; files: string[] }[]> {
  const file = (await import('../config.js')).loadConfig({ file: configFile, readTokens: false }).audit.file;
  const dir = dirname(file);
  let entries: Dirent[];
  try {
    entries = existsSync(dir) ? readdirSync(dir, { withFileTypes: true }) : [];
  } catch (err) {
    throw new UsageError(`cannot read ${visible(dir)}: ${describeError(err)} (the folder of the audit file)`);
  }
  // Real folders only: a symlink planted there is not an instance's trail.
  const instances = entries.filter((e) => e.isDirectory()).map((e) => join(dir, e.name, basename(file))).sort();
  const trails = [];
  for (const current of [file, ...instances]) {
    try {
      const files = trailFiles(current);
      if (files.length) trails.push({ current, files });
    } catch (err) {
      if (current === file) throw new UsageError(`cannot read ${visible(dir)}: ${describeError(err)} (the folder of the audit file)`);
    }
  }
  return trails;
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
    const trails = await configuredTrails(configFile);
    if (!trails.length) throw new UsageError('no audit file found (give FILEs, or --config)');
    return trails.flatMap(({ current, files }) => files.map((file) => ({ name: file, input: file, trail: true, group: current })));
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
