/**
 * The service as one object: writer, public listener, admin listener. main.ts wires it to the
 * process (config, signals, exit codes); tests start it in-process on ephemeral ports.
 */
import { readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { sealerFor } from './audit/sealing.js';
import { AuditWriter } from './audit/writer.js';
import { buildCallbacks } from './callbacks/index.js';
import type { Config } from './config.js';
import { buildAccess, RELOADABLE } from './http/access.js';
import { createAdminApp, createApp, type Lifecycle } from './http/app.js';
import { inheritedListener } from './http/activation.js';
import { answerClientErrors } from './http/client-errors.js';
import { guardConnections } from './http/connections.js';
import { rawFail } from './http/fail.js';
import { AppError } from './errors.js';
import { createMetrics } from './metrics.js';
import { VERSION } from './version.js';

export interface Service {
  port: number;
  adminPort: number;
  writer: AuditWriter;
  /**
   * SIGHUP: reopen the audit file, reload TLS files, and, given the re-read config, apply its apps,
   * tokens, allowSources and trustProxy (other changed keys are logged as waiting for a restart).
   */
  reload(next?: Readonly<Config>): void;
  /** SIGTERM: stop accepting, answer in-flight requests, flush, sync, close. False if the grace ran out or lines could not be written. */
  stop(): Promise<boolean>;
}

/** Listen on host:port, or on an fd systemd passed (socket activation). Resolves with the bound address. */
function listen(server: http.Server, host: string, port: number, fd: number | null = null): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    };
    if (fd === null) server.listen(port, host, done);
    else server.listen({ fd }, done);
  });
}

function fileSize(path: string): number | null {
  try {
    return statSync(path).size;
  } catch {
    return null;
  }
}

/** How long idle keep-alive connections get to send one more request after SIGTERM (answered with Connection: close). */
const DRAIN_IDLE_MS = 1000;

/** How long the IM backend waits for a reply before it gives up (and, if enabled, resends). */
const TENCENT_TIMEOUT_MS = 2000;

/** What the process knows that the config does not say, for the start-up summary. */
export interface StartInfo {
  /** The config file laid over the defaults, or null (defaults and environment only). */
  configFile?: string | null;
  /** The clock the sealer reads epochs from (tests); Date.now by default. */
  now?: () => number;
}

export async function startService(config: Readonly<Config>, log: Logger, info: StartInfo = {}): Promise<Service> {
  const metrics = createMetrics();
  const sealer = sealerFor(config, log, info.now);
  const writer = new AuditWriter({
    path: config.audit.file,
    durability: config.audit.durability,
    maxQueueBytes: config.audit.maxQueueBytes,
    deadlineMs: config.limits.requestDeadlineMs,
    rotateCheckMs: config.audit.rotateCheckMs,
    checkEachBatch: config.audit.checkEachBatch,
    chain: config.audit.chain,
    sealer,
    dedupWindowMs: config.audit.dedupWindowMs,
    dedupMaxIds: config.audit.dedupMaxIds,
    log,
    onBatch: (b) => {
      metrics.bytes.inc(b.bytes);
      metrics.batchCallbacks.observe(b.callbacks);
      metrics.writeSeconds.observe(b.writeMs / 1000);
      if (config.audit.durability === 'fsync') metrics.syncSeconds.observe(b.syncMs / 1000);
    },
    onError: (code) => metrics.errors.inc({ type: code }),
    onRetry: () => metrics.retries.inc(),
    onLines: (kind, n) => (kind === 'duplicate' ? metrics.duplicateLines : metrics.lateLines).inc(n),
  });
  await writer.start();
  if (config.limits.requestDeadlineMs < TENCENT_TIMEOUT_MS) {
    log.warn(
      { stage: 'starting', requestDeadlineMs: config.limits.requestDeadlineMs },
      'limits.requestDeadlineMs is below the IM backend\'s 2 s timeout: a callback answered 503 before it is never resent, and its exit is lost if the process then stops',
    );
  }
  const warnUnauthenticated = (apps: Config['apps']) => {
    for (const app of apps) {
      if (app.missingTokenFiles) {
        const refused = !app.tokens?.length;
        log.warn(
          { stage: 'receiving', sdkAppId: app.sdkAppId, missing: app.missingTokenFiles },
          refused ? 'token file missing: every callback of this app is held and answered 503 TOKEN_MISSING until the token is in place' : 'token file missing: the app\'s other tokens still sign',
        );
      } else if (!app.tokens) log.warn({ stage: 'receiving', sdkAppId: app.sdkAppId }, 'callbacks of this app are not authenticated: set a token');
    }
  };
  warnUnauthenticated(config.apps);
  metrics.buildInfo.labels(VERSION, process.version).set(1);

  const lifecycle: Lifecycle = { stopping: false };
  const access = { current: buildAccess(config) };
  const callbacksOf = buildCallbacks(config);
  const tlsFiles = () => config.tls && { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) };
  // Node checks header/request timeouts every connectionsCheckingInterval (default 30 s): check
  // often enough that the configured slow-client limits hold. A request without Host is refused
  // by the app (errorReplies), as a FAIL reply with its warn line, not by Node's bare 400.
  const serverOpts = { connectionsCheckingInterval: Math.min(1000, Math.ceil(config.limits.headersTimeoutMs / 2)), requireHostHeader: false };
  const server = config.tls ? https.createServer({ ...serverOpts, ...(tlsFiles() as https.ServerOptions) }) : http.createServer(serverOpts);
  server.headersTimeout = config.limits.headersTimeoutMs;
  server.requestTimeout = config.limits.requestTimeoutMs;
  server.keepAliveTimeout = config.limits.keepAliveTimeoutMs;
  const guard = guardConnections(server, {
    maxConnections: config.limits.maxConnections,
    maxPerSource: config.limits.maxConnectionsPerSource,
    exempt: () => access.current.trusted,
    headersTimeoutMs: config.limits.headersTimeoutMs,
    log,
    onClose: (reason) => metrics.connectionsClosed.inc({ reason }),
    timeoutReply: () => {
      metrics.callbacks.inc({ command: 'other', result: 'REQUEST_TIMEOUT' });
      return rawFail(new AppError('REQUEST_TIMEOUT'));
    },
  });
  // After the guard: it counts each request before the app sees it.
  const app = createApp({ config, access, writer, callbacks: callbacksOf, metrics, log, lifecycle, guard });
  server.on('request', app.callback());
  answerClientErrors(server, log, metrics);
  const admin = http.createServer(createAdminApp({ writer, metrics, connections: () => guard.open }).callback());

  let bound: AddressInfo;
  let adminPort: number;
  const activated = inheritedListener();
  try {
    bound = await listen(server, config.listen.host, config.listen.port, activated);
    adminPort = (await listen(admin, config.admin.host, config.admin.port)).port;
  } catch (err) {
    server.close();
    await writer.close();
    throw err;
  }
  // Where it listens is said at any log level (but silent): with PORT=0 nothing else tells.
  const announce = log.level === 'silent' ? log : log.child({}, { level: 'info' });
  const port = bound.port;
  announce.info({ stage: 'receiving', host: bound.address, port, tls: Boolean(config.tls), activated: activated !== null, version: VERSION, node: process.version }, 'listening');
  announce.info({ stage: 'receiving', host: config.admin.host, port: adminPort }, 'admin listening');
  // One line an operator can check the set-up against: never a token, only how many.
  announce.info(
    {
      stage: 'starting',
      configFile: info.configFile ?? null,
      apps: config.apps.map((a) => ({ sdkAppId: a.sdkAppId, tokens: a.tokens?.length ?? 0, ...(a.missingTokenFiles ? { missingTokenFiles: a.missingTokenFiles.length } : {}) })),
      trail: { file: config.audit.file, bytes: fileSize(config.audit.file), durability: config.audit.durability, chain: config.audit.chain, sealed: sealer !== null },
      listen: { host: bound.address, port, tls: Boolean(config.tls), activated: activated !== null },
      admin: { host: config.admin.host, port: adminPort },
      requestDeadlineMs: config.limits.requestDeadlineMs,
      dedupWindowMs: config.audit.dedupWindowMs,
      audited: [...callbacksOf.keys()],
    },
    'started',
  );
  let running = config;

  return {
    port,
    adminPort,
    writer,
    reload(next) {
      writer.reopen();
      if (next) {
        const differs = (k: keyof Config) => JSON.stringify(next[k]) !== JSON.stringify(running[k]);
        const applied = RELOADABLE.filter(differs);
        const waiting = (Object.keys({ ...next, ...running }) as (keyof Config)[]).filter((k) => !(RELOADABLE as readonly string[]).includes(k) && differs(k));
        access.current = buildAccess(next);
        running = { ...running, ...Object.fromEntries(RELOADABLE.map((k) => [k, next[k]])) };
        const tokens = Object.fromEntries(next.apps.map((a) => [a.sdkAppId, a.tokens?.length ?? 0]));
        log.info({ stage: 'receiving', reloaded: applied, tokens }, applied.length ? 'config reloaded' : 'config reloaded: no change to apps, tokens or sources');
        if (applied.includes('apps')) warnUnauthenticated(next.apps);
        if (waiting.length) log.warn({ stage: 'receiving', keys: waiting }, 'config changes that need a restart were not applied');
      }
      if (config.tls) {
        try {
          (server as https.Server).setSecureContext(tlsFiles() as https.ServerOptions);
          log.info({ stage: 'receiving' }, 'TLS certificate reloaded');
        } catch (err) {
          log.error({ stage: 'receiving', err: { code: (err as NodeJS.ErrnoException).code, message: (err as Error).message } }, 'TLS reload failed; keeping the old certificate');
        }
      }
    },
    async stop() {
      lifecycle.stopping = true;
      const until = Date.now() + config.shutdownGraceMs;
      // Stop accepting, but do not yet close idle keep-alive connections (http.Server#close would):
      // the IM backend reuses them, and a request it sends on one now is answered, with
      // Connection: close, rather than having the connection closed under it. Under socket
      // activation the listening socket stays open in systemd, so new connections wait for the
      // next process.
      const closed = new Promise<void>((resolve) => net.Server.prototype.close.call(server, () => resolve()));
      admin.close();
      admin.closeAllConnections();
      const idle = setTimeout(() => server.closeIdleConnections(), Math.min(DRAIN_IDLE_MS, config.shutdownGraceMs));
      let timer: NodeJS.Timeout | undefined;
      const inTime = await Promise.race([
        closed.then(() => true),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), config.shutdownGraceMs))),
      ]);
      clearTimeout(timer);
      clearTimeout(idle);
      if (!inTime) server.closeAllConnections();
      // http's own clean-up (its connection-check timer); the listener itself is already closed.
      server.close(() => {});
      guard.stop();
      // What is still queued (a disk that failed) is retried for the rest of the grace; what is
      // left then is counted and logged (its callers were never acknowledged).
      const unwritten = await writer.close(Math.max(0, until - Date.now()));
      return inTime && unwritten.callbacks === 0;
    },
  };
}
