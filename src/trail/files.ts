/** The files `query` and `verify` read: the configured audit file and its rotated siblings. */
import { trailFiles } from '../audit/siblings.js';

export { trailFiles };

/**
 * The trail named by the config (`--config`, MEMBER_EXIT_AUDIT_CONFIG, AUDIT_FILE). The config
 * module (TypeBox) is loaded only here, when no FILE is given, so `query FILE` starts light.
 */
export async function configuredTrail(configFile: string | undefined): Promise<string[]> {
  return trailFiles((await import('../config.js')).loadConfig({ file: configFile, readTokens: false }).audit.file);
}
