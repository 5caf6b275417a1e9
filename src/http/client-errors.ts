/**
 * Requests that Node's HTTP parser refuses before Koa sees them (smuggling probes such as
 * Content-Length with Transfer-Encoding, duplicate Content-Length, bad chunking; headers too large;
 * too slow; an Expect other than 100-continue). Node would answer with a bare status line: here they
 * get the FAIL reply of the error table, one warn line and a metric, like every other refusal.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { AppError, type ErrorName } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { visible } from '../visible.js';
import { failBody, rawFail } from './fail.js';

/** Node's error codes (llhttp's `HPE_*` and its own) to ours; any other parser error is BAD_REQUEST. */
function ours(code: string | undefined): ErrorName {
  if (code === 'HPE_HEADER_OVERFLOW') return 'HEADERS_TOO_LARGE';
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 'REQUEST_TIMEOUT';
  return 'BAD_REQUEST';
}

/**
 * Set on a socket whose request the parser refused mid-body, while Koa was already handling it:
 * the refusal is answered and logged here, so Koa's error path says nothing more about it.
 */
export const REFUSED_BY_PARSER = Symbol('refused by the HTTP parser');

export function answerClientErrors(server: Server, log: Logger, metrics: Metrics): void {
  const refuse = (name: ErrorName, remote: string | undefined, cause: string | undefined) => {
    const err = new AppError(name, cause === undefined ? undefined : visible(cause));
    metrics.callbacks.inc({ command: 'other', result: err.code });
    log.warn({ stage: 'receiving', remote, status: err.status, err: { code: err.code, errorCode: err.errorCode, message: err.message } }, 'request refused');
    return err;
  };
  server.on('clientError', (e: NodeJS.ErrnoException, socket: Duplex) => {
    // A peer that went away needs no answer, and is no refusal.
    if (e.code === 'ECONNRESET' || !socket.writable) return socket.destroy();
    const inFlight = (socket as { _httpMessage?: ServerResponse })._httpMessage;
    (socket as unknown as Record<symbol, boolean>)[REFUSED_BY_PARSER] = true;
    const err = refuse(ours(e.code), (socket as { remoteAddress?: string }).remoteAddress, e.code);
    // A reply already under way for the request in flight cannot be followed by another.
    if (inFlight?.headersSent) return socket.destroy();
    socket.end(rawFail(err));
  });
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    const err = refuse('EXPECTATION_FAILED', req.socket.remoteAddress, undefined);
    const body = failBody(err);
    res.writeHead(err.status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), Connection: 'close' });
    res.end(body);
  });
}
