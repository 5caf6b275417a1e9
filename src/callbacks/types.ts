/**
 * What every audited callback module provides. Adding a command means one file here and one entry
 * in the table in index.ts; its limits and its on/off switch then come with it in the config
 * (`audit.commands`).
 */
import type { Lines } from '../audit/line.js';

/** Facts about the request that come from outside the body. */
export interface RequestFacts {
  sdkAppId: string;
  clientIp: string | null;
  optPlatform: string | null;
  /** Unix ms when the request arrived. */
  receivedAt: number;
}

/** A command's limits: the largest body it accepts, and the most members one callback may list. */
export interface CommandLimits {
  bodyBytes: number;
  members: number;
}

/** The config's string bounds (bytes of UTF-8), shared by every command's schema. */
export interface SchemaLimits {
  accountBytes: number;
  groupIdBytes: number;
  wordBytes: number;
}

export interface CallbackModule {
  /** The CallbackCommand this module handles. */
  command: string;
  /** The body limit the route enforces while reading (413 beyond). */
  bodyBytes: number;
  /**
   * Check the body once per request and build its lines; throws AppError(INVALID_CALLBACK) naming
   * the field, or OUTPUT_TOO_LARGE when the lines would take more than `maxBytes`. A small member
   * list's lines come back at once; a large one's are formatted in slices, yielding to the event
   * loop between them (a promise).
   */
  toLines(body: unknown, facts: RequestFacts, maxBytes?: number): Lines | Promise<Lines>;
}

/** One entry of the table: the command, its default limits, and how to build it from the config's limits. */
export interface CallbackEntry {
  command: string;
  defaults: CommandLimits;
  build(limits: CommandLimits & SchemaLimits): CallbackModule;
}
