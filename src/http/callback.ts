/**
 * The callback route: POST on the callback path. Cheap checks come before the body is read:
 * source address, SdkAppid, signature, CallbackCommand. Then the command decides: an audited one's
 * body is parsed as JSON whatever its Content-Type (within that command's limit), handed to its
 * module, and its lines are appended, the reply sent only after the writer confirms them; any other
 * command's body is read and discarded unparsed, and answered OK.
 */
import { setImmediate, setTimeout as sleep } from 'node:timers/promises';
import type { Context, Middleware } from 'koa';
import bodyParser from 'koa-bodyparser';
import type { Logger } from 'pino';
import type { AuditWriter } from '../audit/writer.js';
import type { CallbackModule, RequestFacts } from '../callbacks/types.js';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { parseQuery, type Query } from './query.js';
import { okReply, type Lifecycle, type ReplyState } from './reply.js';
import { checkSign } from './signature.js';
import { visible } from '../visible.js';
import { discardBody } from './discard.js';
import { clientAddress } from './source.js';
import type { Access } from './access.js';
import type { Guard } from './connections.js';

/** Lines any callback may write whatever its body's size: a one-member callback is ~400 bytes. */
const OUTPUT_FLOOR = 64 * 1024;

/** From this many characters of body on, parsing and checking are separate turns of the event loop. */
const YIELD_BODY = 64 * 1024;

/** What the checks learn about a request, for the dispatch and the error reply. */
interface CallbackState extends ReplyState, Omit<RequestFacts, 'sdkAppId'> {
  sdkAppId?: string;
}

export interface CallbackDeps {
  config: Readonly<Config>;
  /** Read per request: SIGHUP replaces `current` with rules from the re-read config. */
  access: { current: Access };
  writer: AuditWriter;
  callbacks: ReadonlyMap<string, CallbackModule>;
  metrics: Metrics;
  log: Logger;
  /** The listener's connections: an authenticated one is marked so, and the last answer on one says it closes. */
  guard: Pick<Guard, 'trust' | 'closeAfter' | 'closesWith'>;
  lifecycle: Lifecycle;
}

/** One value of a query parameter; a repeated one is ambiguous and refused. */
function single(q: Query, name: string): string | undefined {
  const v = q[name];
  if (Array.isArray(v)) throw new AppError('BAD_QUERY', `${name} is repeated`);
  return v;
}

/** koa-bodyparser's failures (co-body, raw-body) as our errors. */
function bodyError(err: { status?: number; type?: string; message?: string }): AppError {
  switch (err.type) {
    case 'entity.too.large':
      return new AppError('BODY_TOO_LARGE');
    case 'encoding.unsupported':
      return new AppError('UNSUPPORTED_ENCODING');
    case 'request.aborted':
      return new AppError('BAD_JSON', 'request aborted');
    case 'request.size.invalid':
      return new AppError('BAD_JSON', 'body length does not match Content-Length');
  }
  if (err.status === 415) return new AppError('UNSUPPORTED_ENCODING');
  if (err.status === 413) return new AppError('BODY_TOO_LARGE');
  // JSON.parse's own message says where the JSON broke; it quotes only the caller's own bytes.
  return new AppError('BAD_JSON', (err.message ?? '').slice(0, 120) || undefined);
}

/**
 * The route as one middleware: checks (synchronous), the body parser (with a no-op `next`), then
 * the dispatch. One function rather than three composed ones: fewer promises per callback.
 */
export function callbackRoute(deps: CallbackDeps): Middleware {
  const { config, writer, callbacks, metrics, log } = deps;
  const { clientIpBytes, wordBytes, outputPerBodyByte } = config.limits;
  const replyOk = okReply(deps.lifecycle, deps.guard);

  /** A free-text parameter (ClientIP, OptPlatform), or null; no longer than its limit in bytes of UTF-8. */
  const bounded = (q: Query, name: string, max: number): string | null => {
    const v = single(q, name);
    if (v !== undefined && v.length > max / 3 && Buffer.byteLength(v) > max) throw new AppError('BAD_QUERY', `${name} is longer than ${max} bytes`);
    return v ?? null;
  };

  const check = (ctx: Context) => {
    const state = ctx.state as CallbackState;
    state.receivedAt = Date.now();
    const { tokens, allowed, trusted } = deps.access.current;
    if (allowed) {
      const ip = clientAddress(ctx.socket.remoteAddress ?? '', ctx.get('x-forwarded-for') || undefined, trusted);
      if (!allowed(ip)) throw new AppError('SOURCE_DENIED', ip);
    }
    const q = parseQuery(ctx.req.url ?? '');
    const sdkAppId = single(q, 'SdkAppid');
    const appTokens = sdkAppId === undefined ? undefined : tokens.get(sdkAppId);
    // Named in the refusal and its warn line (the operator's question: which app?), bounded and escaped.
    if (appTokens === undefined) throw new AppError('UNKNOWN_APP', sdkAppId === undefined ? 'no SdkAppid' : `SdkAppid ${sdkAppId.slice(0, 32)}`);
    state.sdkAppId = sdkAppId;
    if (appTokens?.length === 0) {
      // The app's token file is not in place yet (an operator's step, not the caller's fault): fail
      // closed, but as a fault, held like one, so that Tencent resends once the token is there.
      state.command = single(q, 'CallbackCommand');
      throw new AppError('TOKEN_MISSING');
    }
    if (appTokens !== null) {
      checkSign(appTokens, single(q, 'Sign'), single(q, 'RequestTime'), state.receivedAt, config.maxSkewSeconds);
    }
    // Its connection is the app's IM backend's: reclaimed only after the others (connections.ts).
    deps.guard.trust(ctx.req);
    const command = single(q, 'CallbackCommand');
    if (!command) throw new AppError('MISSING_COMMAND');
    state.command = command;
    state.clientIp = bounded(q, 'ClientIP', clientIpBytes);
    state.optPlatform = bounded(q, 'OptPlatform', wordBytes);
  };

  // One parser per audited command: each has its own body limit.
  const parsers = new Map(
    [...callbacks.values()].map((m) => [
      m.command,
      bodyParser({
        enableTypes: ['json'],
        jsonLimit: `${m.bodyBytes}b`,
        strict: true,
        // The IM backend promises no Content-Type (PROTOCOL.md): the body is JSON whatever it says.
        detectJSON: () => true,
        onerror: (err) => {
          throw bodyError(err as { status?: number; type?: string });
        },
      }),
    ]),
  );

  /** A command we do not audit (a "before" callback among them) must never be blocked. */
  const notAudited = async (ctx: Context) => {
    const state = ctx.state as Required<CallbackState>;
    await discardBody(ctx.req, config.limits.otherBodyBytes);
    metrics.answeredOk('other');
    log.debug({ stage: 'processing', command: visible(state.command), sdkAppId: state.sdkAppId }, 'callback not audited');
    replyOk(ctx);
  };

  const audited = async (ctx: Context, module: CallbackModule) => {
    const state = ctx.state as Required<CallbackState>;
    // Past the queue's bound the body is not read until there is room (TCP pushes back on the
    // sender); at the deadline, OVERLOADED with nothing written, and Tencent may resend.
    if (!writer.hasRoom) await writer.room(state.receivedAt);
    await parsers.get(module.command)!(ctx, parsed);
    const raw = (ctx.request as { rawBody?: string }).rawBody ?? '';
    if (raw.length === 0) throw new AppError('BAD_JSON', 'empty body');
    // A large body: other requests get a turn between its parse and its check (a few ms each).
    if (raw.length > YIELD_BODY) await setImmediate();
    // raw-body decodes invalid UTF-8 to U+FFFD; an audited callback carries none: its fields are
    // Tencent ids, which are ASCII.
    if (raw.includes('\uFFFD')) throw new AppError('BAD_UTF8');
    const body = ctx.request.body as { CallbackCommand?: unknown } | unknown[];
    const bodyCommand = Array.isArray(body) ? undefined : body.CallbackCommand;
    if (bodyCommand !== undefined && bodyCommand !== state.command) {
      throw new AppError('COMMAND_MISMATCH', `query has ${JSON.stringify(state.command).slice(0, 80)}`);
    }
    // Every line repeats the shared fields: bound what this body may ask to be written (docs/security.md).
    const maxBytes = Math.min(writer.maxBytes, OUTPUT_FLOOR + outputPerBodyByte * Buffer.byteLength(raw));
    const made = module.toLines(body, state as RequestFacts, maxBytes);
    const lines = made instanceof Promise ? await made : made;
    await writer.append(lines.text, state.receivedAt, lines.ids);
    metrics.answeredOk(module.command, lines.count);
    replyOk(ctx);
    metrics.answerSeconds.observe((Date.now() - state.receivedAt) / 1000);
  };

  /**
   * A fault is never answered before Tencent has given up (issue #19): the IM backend ignores the
   * reply to an after-callback and resends only what timed out, so a quick 503 loses the exit for
   * good. The writer and the wait for room answer at the deadline already; anything else that is
   * not the caller's fault (a bug: INTERNAL) waits for it here.
   */
  const hold = async (ctx: Context, err: unknown) => {
    if (!(err instanceof AppError) || err.status >= 500) {
      const wait = (ctx.state as CallbackState).receivedAt! + config.limits.requestDeadlineMs - Date.now();
      if (wait > 0) await sleep(wait);
    }
    throw err;
  };

  const parsed = async () => {};
  return async function callback(ctx: Context) {
    try {
      check(ctx);
    } catch (err) {
      if (callbacks.has((ctx.state as CallbackState).command!)) await hold(ctx, err);
      throw err;
    }
    const module = callbacks.get((ctx.state as CallbackState).command!);
    if (!module) return notAudited(ctx);
    try {
      await audited(ctx, module);
    } catch (err) {
      await hold(ctx, err);
    }
  };
}
