/**
 * Every failure this service can answer with, in one table.
 *
 * Each entry is a stable `code` (used in logs and metrics), the HTTP status, and the `ErrorCode`
 * the FAIL reply carries. The numbers are a contract: callers and dashboards key on them, and
 * test/errors.test.ts pins the table. Add new entries; never renumber old ones.
 */
import { visible } from './visible.js';

export const ERRORS = {
  BAD_JSON: { status: 400, errorCode: 40001, info: 'body is not a valid JSON object' },
  BAD_UTF8: { status: 400, errorCode: 40002, info: 'body is not valid UTF-8' },
  INVALID_CALLBACK: { status: 400, errorCode: 40003, info: 'callback body does not match the schema' },
  COMMAND_MISMATCH: { status: 400, errorCode: 40004, info: 'CallbackCommand in query and body differ' },
  MISSING_COMMAND: { status: 400, errorCode: 40005, info: 'CallbackCommand query parameter is missing' },
  BAD_QUERY: { status: 400, errorCode: 40006, info: 'malformed query string' },
  BAD_REQUEST: { status: 400, errorCode: 40007, info: 'malformed HTTP request' },
  AUTH_MISSING: { status: 401, errorCode: 40101, info: 'Sign or RequestTime is missing' },
  AUTH_MALFORMED: { status: 401, errorCode: 40102, info: 'Sign or RequestTime is malformed' },
  AUTH_STALE: { status: 401, errorCode: 40103, info: 'RequestTime is outside the allowed window' },
  AUTH_BAD_SIGN: { status: 401, errorCode: 40104, info: 'Sign does not match' },
  UNKNOWN_APP: { status: 403, errorCode: 40301, info: 'SdkAppid is missing or not configured' },
  SOURCE_DENIED: { status: 403, errorCode: 40302, info: 'source address is not allowed' },
  NOT_FOUND: { status: 404, errorCode: 40401, info: 'no such path' },
  METHOD_NOT_ALLOWED: { status: 405, errorCode: 40501, info: 'method not allowed' },
  REQUEST_TIMEOUT: { status: 408, errorCode: 40801, info: 'request not received in time' },
  BODY_TOO_LARGE: { status: 413, errorCode: 41301, info: 'body exceeds the size limit' },
  OUTPUT_TOO_LARGE: { status: 413, errorCode: 41302, info: 'the audit lines of this callback would exceed the output bound' },
  UNSUPPORTED_ENCODING: { status: 415, errorCode: 41501, info: 'unsupported Content-Encoding' },
  EXPECTATION_FAILED: { status: 417, errorCode: 41701, info: 'only Expect: 100-continue is supported' },
  HEADERS_TOO_LARGE: { status: 431, errorCode: 43101, info: 'request headers too large' },
  INTERNAL: { status: 500, errorCode: 50001, info: 'internal error' },
  WRITE_FAILED: { status: 503, errorCode: 50301, info: 'audit write failed' },
  OVERLOADED: { status: 503, errorCode: 50302, info: 'audit writer overloaded' },
  DEADLINE: { status: 503, errorCode: 50303, info: 'audit write not confirmed within the deadline' },
  NOT_READY: { status: 503, errorCode: 50304, info: 'audit file is not open' },
  SHUTTING_DOWN: { status: 503, errorCode: 50305, info: 'service is shutting down' },
  TOKEN_MISSING: { status: 503, errorCode: 50306, info: "the app's token file is not in place" },
} as const satisfies Record<string, { status: number; errorCode: number; info: string }>;

export type ErrorName = keyof typeof ERRORS;

/**
 * An error that becomes a FAIL reply. `expose` is Koa's contract: only exposed messages reach
 * the client; `detail` adds request-specific context (a field name, never a secret).
 */
export class AppError extends Error {
  readonly status: number;
  readonly errorCode: number;
  readonly expose = true;
  readonly detail?: string;

  constructor(
    readonly code: ErrorName,
    detail?: string,
  ) {
    const entry = ERRORS[code];
    // A detail may quote the caller (a JSON.parse snippet, an address): never raw control characters.
    const shown = detail === undefined ? undefined : visible(detail);
    super(shown ? `${entry.info}: ${shown}` : entry.info);
    this.detail = shown;
    this.name = 'AppError';
    this.status = entry.status;
    this.errorCode = entry.errorCode;
  }
}
