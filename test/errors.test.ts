import t from 'tap';
import { AppError, ERRORS } from '../src/errors.js';

t.test('the error table is pinned: codes are a contract', async (t) => {
  const table = Object.fromEntries(Object.entries(ERRORS).map(([k, v]) => [k, [v.status, v.errorCode]]));
  t.same(table, {
    BAD_JSON: [400, 40001],
    BAD_UTF8: [400, 40002],
    INVALID_CALLBACK: [400, 40003],
    COMMAND_MISMATCH: [400, 40004],
    MISSING_COMMAND: [400, 40005],
    BAD_QUERY: [400, 40006],
    BAD_REQUEST: [400, 40007],
    AUTH_MISSING: [401, 40101],
    AUTH_MALFORMED: [401, 40102],
    AUTH_STALE: [401, 40103],
    AUTH_BAD_SIGN: [401, 40104],
    UNKNOWN_APP: [403, 40301],
    SOURCE_DENIED: [403, 40302],
    NOT_FOUND: [404, 40401],
    METHOD_NOT_ALLOWED: [405, 40501],
    REQUEST_TIMEOUT: [408, 40801],
    BODY_TOO_LARGE: [413, 41301],
    OUTPUT_TOO_LARGE: [413, 41302],
    UNSUPPORTED_ENCODING: [415, 41501],
    EXPECTATION_FAILED: [417, 41701],
    HEADERS_TOO_LARGE: [431, 43101],
    INTERNAL: [500, 50001],
    WRITE_FAILED: [503, 50301],
    OVERLOADED: [503, 50302],
    DEADLINE: [503, 50303],
    NOT_READY: [503, 50304],
    SHUTTING_DOWN: [503, 50305],
    TOKEN_MISSING: [503, 50306],
  });
  const codes = Object.values(ERRORS).map((e) => e.errorCode);
  t.equal(new Set(codes).size, codes.length, 'ErrorCodes are unique');
  t.notOk(codes.includes(0), 'no failure uses 0');
});

t.test('a detail that quotes the caller never carries raw control or format characters', async (t) => {
  const e = new AppError('BAD_JSON', 'Unexpected token \u009b, "\u001b[2J\u202e" is not valid JSON');
  t.equal(e.detail, 'Unexpected token \\u009b, "\\u001b[2J\\u202e" is not valid JSON');
  t.notMatch(e.message, /[\u0000-\u001f\u0080-\u009f\u202e]/);
});

t.test('AppError carries status, ErrorCode and an exposed message', async (t) => {
  const e = new AppError('INVALID_CALLBACK', '/GroupId: must be string');
  t.equal(e.status, 400);
  t.equal(e.errorCode, 40003);
  t.equal(e.expose, true);
  t.equal(e.message, 'callback body does not match the schema: /GroupId: must be string');
  t.equal(new AppError('NOT_FOUND').message, 'no such path');
});

t.test('docs/errors.md documents every entry of the table', async (t) => {
  const { readFileSync } = await import('node:fs');
  const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
  for (const [name, e] of Object.entries(ERRORS)) {
    t.match(doc, new RegExp(`\\| ${e.errorCode} \\| ${e.status} \\| \`${name}\``), `${name} is in the docs table`);
  }
});
