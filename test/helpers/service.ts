/**
 * Start the real service in-process on ephemeral ports with a temporary audit file, and talk to
 * it over real sockets.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig, type Config } from '../../src/config.js';
import { startService, type Service } from '../../src/service.js';

/** Sample callbacks, copied from Tencent's documentation and a real capture (test/fixtures/README.md). */
export const FIXTURES = new URL('../fixtures/', import.meta.url).pathname;
export const MEMBER_EXIT = 'Group.CallbackAfterMemberExit';
export const APP = '1400000000';

type Test = { teardown(fn: () => unknown): void };

/** A config from config/default.json with overrides, the audit file in a fresh test dir. */
export function testConfig(t: Test, over: Record<string, unknown> = {}): Config {
  // Its own folder, not t.testdir(): that one is wiped whenever a test asks for it again.
  const dir = mkdtempSync(join(tmpdir(), 'member-exit-audit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // Through the real loader, as a config file: tokens and token files are resolved as in production.
  const file = join(dir, 'config.json');
  // The sealing state in the test's folder too: never one a developer made for `npm start`.
  const audit = (over.audit ?? {}) as Record<string, unknown>;
  const seal = { stateFile: join(dir, 'seal', 'seal.state'), ...(audit.seal as object | undefined) };
  writeFileSync(file, JSON.stringify({ ...over, audit: { ...audit, seal } }));
  const named = (over.audit as { file?: string } | undefined)?.file !== undefined;
  // The audit file in a folder of its own: tests read every file beside it.
  const env = { PORT: '0', ADMIN_PORT: '0', LOG_LEVEL: 'silent', ...(named ? {} : { AUDIT_FILE: join(dir, 'audit', 'member-exit.ndjson') }) };
  return structuredClone(loadConfig({ file, env })) as Config;
}

export async function startTest(t: Test, over: Record<string, unknown> = {}): Promise<Service & { file: string; config: Config }> {
  const config = testConfig(t, over);
  const svc = await startService(config, pino({ level: 'silent' }));
  t.teardown(() => svc.stop());
  return Object.assign(svc, { file: config.audit.file, config });
}

/** startTest, with every log record kept (`records`). */
export async function startLogged(t: Test, over: Record<string, unknown> = {}): Promise<Service & { file: string; config: Config; records: Record<string, unknown>[] }> {
  const config = testConfig(t, over);
  const records: Record<string, unknown>[] = [];
  const svc = await startService(config, pino({ level: 'debug' }, { write: (s: string) => records.push(JSON.parse(s)) }));
  t.teardown(() => svc.stop());
  return Object.assign(svc, { file: config.audit.file, config, records });
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: { ActionStatus?: string; ErrorInfo?: string; ErrorCode?: number } & Record<string, unknown>;
}

/** One raw HTTP request: any method, path, headers and body bytes. */
export function request(
  port: number,
  opts: { method?: string; path?: string; headers?: Record<string, string | number>; body?: string | Buffer; agent?: http.Agent } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: opts.method ?? 'POST',
        path: opts.path ?? '/',
        // An explicit length: node sends DELETE/OPTIONS bodies unframed otherwise.
        headers: { 'content-length': opts.body === undefined ? 0 : Buffer.byteLength(opts.body), ...opts.headers },
        agent: opts.agent ?? false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let json = {};
          try {
            json = JSON.parse(text);
          } catch {
            // Not JSON: tests assert on `text`.
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

export function query(params: Record<string, string> = {}): string {
  return '/?' + new URLSearchParams({ SdkAppid: APP, CallbackCommand: MEMBER_EXIT, contenttype: 'json', ClientIP: '10.0.0.7', OptPlatform: 'Android', ...params });
}

/** A valid member-exit body. */
export function exitBody(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    CallbackCommand: MEMBER_EXIT,
    GroupId: '@TGS#2J4SZEAEL',
    Type: 'Public',
    ExitType: 'Kicked',
    Operator_Account: 'leckie',
    ExitMemberList: [{ Member_Account: 'jared' }],
    EventTime: 1670574414123,
    ...over,
  };
}

/** POST a callback (JSON-encoded when an object) with the given query. */
export function post(port: number, body: unknown, params: Record<string, string> = {}, agent?: http.Agent): Promise<Reply> {
  return request(port, { path: query(params), body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body), agent });
}
