/**
 * Replies, and the one place errors become them. Success is a precomputed body; every failure is
 * a FAIL reply with the ErrorCode of its entry in src/errors.ts. An error without `expose` (a bug)
 * never shows its message to the client: it becomes INTERNAL.
 */
import type { IncomingMessage } from 'node:http';
import type { Context, Middleware, Next } from 'koa';
import type { Logger } from 'pino';
import { AppError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { visible } from '../visible.js';
import { REFUSED_BY_PARSER } from './client-errors.js';
import type { Guard } from './connections.js';
import { failBody } from './fail.js';


const OK_BODY = Buffer.from('{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}');

const JSON_TYPE = 'application/json; charset=utf-8';

/** The success reply's headers, as the flat list `writeHead` takes without building a header map. */
const OK_HEADERS = ['Content-Type', JSON_TYPE, 'Content-Length', String(OK_BODY.length)];
const OK_CLOSING = [...OK_HEADERS, 'Connection', 'close'];

/** Set on SIGTERM: replies then ask the client to close the connection. */
export interface Lifecycle {
  stopping: boolean;
}

/**
 * Whether the answer to `req` is the last its connection carries (the SIGTERM drain, or a refusal
 * before a body was read on it): it then says `Connection: close`.
 */
function lastOnConnection(req: IncomingMessage, lifecycle: Lifecycle, guard: Pick<Guard, 'closeAfter' | 'closesWith'>): boolean {
  if (lifecycle.stopping) guard.closeAfter(req);
  return guard.closesWith(req);
}

/**
 * The success reply, written once and directly (`ctx.respond = false`, Koa's documented bypass):
 * the body is a constant, and Koa's response setters (type, length, body) and its `respond` cost
 * ~3% of a callback's CPU and a header map per request for bytes that never change (issue #24).
 */
export function okReply(lifecycle: Lifecycle, guard: Pick<Guard, 'closeAfter' | 'closesWith'>): (ctx: Context) => void {
  return (ctx) => {
    ctx.respond = false;
    ctx.res.writeHead(200, lastOnConnection(ctx.req, lifecycle, guard) ? OK_CLOSING : OK_HEADERS).end(OK_BODY);
  };
}

/**
 * Errors that are not ours: Koa's or the router's by status; anything else is a bug (INTERNAL).
 * The body parser's errors are mapped where it runs (src/http/callback.ts).
 */
function fromForeign(err: { status?: number }): AppError {
  if (err.status === 404) return new AppError('NOT_FOUND');
  if (err.status === 405) return new AppError('METHOD_NOT_ALLOWED');
  return new AppError('INTERNAL');
}

/** Request state the error middleware reads for its one log line and the metrics label. */
export interface ReplyState {
  command?: string;
  sdkAppId?: string;
}

let seq = 0;

/**
 * The one middleware around every request of the callback listener: `inner` (the routes) runs
 * inside it, not as a second middleware (one layer of Koa's compose less per callback).
 */
export function errorReplies(log: Logger, metrics: Metrics, handled: ReadonlySet<string>, lifecycle: Lifecycle, guard: Guard, inner: Middleware) {
  return async function replies(ctx: Context, next: Next): Promise<void> {
    // Pipelined behind a request whose answer said Connection: close: the connection ends before
    // an answer could reach the client, so it is not processed (nothing written) at all.
    if (guard.late(ctx.req)) {
      ctx.respond = false;
      return;
    }
    try {
      // HTTP/1.1 requires Host (RFC 9112 3.2); Node's own refusal of it was a bare 400 (issue #23).
      if (ctx.req.headers.host === undefined && ctx.req.httpVersionMinor === 1 && ctx.req.httpVersionMajor === 1) throw new AppError('BAD_REQUEST', 'HTTP/1.1 request without Host');
      await inner(ctx, next);
      // Answered already (okReply), with its own Connection header.
      if (ctx.respond === false) return;
      if (ctx.status === 404 && ctx.body === undefined) throw new AppError('NOT_FOUND');
    } catch (caught) {
      // The parser refused this request mid-body and answered it (src/http/client-errors.ts).
      if ((ctx.req.socket as unknown as Record<symbol, boolean>)[REFUSED_BY_PARSER]) return;
      const foreign = !(caught instanceof AppError);
      const err = foreign ? fromForeign(caught as object) : caught;
      const state = ctx.state as ReplyState;
      const command = state.command && handled.has(state.command) ? state.command : 'other';
      metrics.callbacks.inc({ command, result: err.code });
      ctx.status = err.status;
      // Refused before the body was all read (413 mid-body, a checksum of the query): close the
      // connection rather than read the rest, once the requests already received are answered.
      if (!ctx.req.complete) guard.closeAfter(ctx.req);
      ctx.set('Content-Type', JSON_TYPE);
      ctx.body = failBody(err);
      if (err.status === 405) ctx.set('Allow', 'POST');
      // 503s are logged by the writer once per state change, not once per request.
      if (err.status !== 503) {
        const entry = {
          stage: 'receiving',
          req: ++seq,
          method: ctx.method,
          path: visible(ctx.path),
          remote: ctx.socket.remoteAddress,
          sdkAppId: state.sdkAppId,
          status: err.status,
          err: { code: err.code, errorCode: err.errorCode, message: err.message },
        };
        if (err.code === 'INTERNAL') log.error({ ...entry, cause: String((caught as Error)?.stack ?? caught) }, 'request failed');
        else log.warn(entry, 'request refused');
      }
    }
    // The SIGTERM drain: answered, then closed, after the last request received on the connection.
    if (lastOnConnection(ctx.req, lifecycle, guard)) ctx.set('Connection', 'close');
  };
}

