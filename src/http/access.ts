/**
 * Who may post callbacks: the apps and their tokens, the source allowlist and the trusted proxies,
 * built from the config once. SIGHUP builds a new one from the re-read config and the callback
 * route takes it for the next request (src/service.ts `reload`).
 */
import type { Config } from '../config.js';
import { cidrList } from '../cidr.js';

export interface Access {
  /** SdkAppid -> its tokens (any of them signs), or null for an app without authentication. */
  tokens: ReadonlyMap<string, readonly string[] | null>;
  /** Null: any source may post. */
  allowed: ((ip: string) => boolean) | null;
  trusted: (ip: string) => boolean;
}

export function buildAccess(config: Pick<Config, 'apps' | 'allowSources' | 'trustProxy'>): Access {
  return {
    tokens: new Map(config.apps.map((a) => [a.sdkAppId, appTokens(a)])),
    allowed: config.allowSources ? cidrList(config.allowSources) : null,
    trusted: cidrList(config.trustProxy),
  };
}

/**
 * An app's tokens. loadConfig gathers every kind into `tokens`; a `token` is counted too, and token
 * files left unread are refused, so that a config built any other way can never fail open. An
 * empty `tokens` (its token file is missing) signs nothing: every callback of the app is refused.
 */
function appTokens(app: Config['apps'][number]): readonly string[] | null {
  if (app.tokenFile !== undefined || app.tokenFiles !== undefined) throw new Error(`app ${app.sdkAppId}: token files are read by loadConfig`);
  const all = [...(app.token === undefined ? [] : [app.token]), ...(app.tokens ?? [])];
  if (all.length) return all;
  return app.tokens === undefined ? null : [];
}

/** The keys SIGHUP applies without a restart; a change to any other key waits for one. */
export const RELOADABLE = ['apps', 'allowSources', 'trustProxy'] as const;
