/**
 * What every callback module provides. Adding a command means one file here and one line in
 * index.ts.
 */
import type { Lines } from '../audit/line.js';
import type { Config } from '../config.js';

/** Facts about the request that come from outside the body. */
export interface RequestFacts {
  sdkAppId: string;
  clientIp: string | null;
  optPlatform: string | null;
  /** Unix ms when the request arrived. */
  receivedAt: number;
}

export interface CallbackModule {
  /** The CallbackCommand this module handles. */
  command: string;
  /** Check the body once per request; throws AppError(INVALID_CALLBACK) naming the field. */
  toLines(body: unknown, facts: RequestFacts): Lines;
}

/** A module is built once at start from the limits in the config (its schema is compiled then). */
export type CallbackFactory = (limits: Config['limits']) => CallbackModule;
