/**
 * The FAIL reply's bytes, for the Koa path (reply.ts) and for the paths below Koa that write to
 * the socket themselves (client-errors.ts, connections.ts): one shape for every refusal.
 */
import type { AppError } from '../errors.js';

const STATUS: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };

export function failBody(err: AppError): string {
  return JSON.stringify({ ActionStatus: 'FAIL', ErrorInfo: err.message, ErrorCode: err.errorCode });
}

/** A whole HTTP/1.1 response carrying the FAIL reply, closing the connection. */
export function rawFail(err: AppError): string {
  const body = failBody(err);
  return (
    `HTTP/1.1 ${err.status} ${STATUS[err.status] ?? 'Error'}\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
}
