/**
 * The service as one object: writer, public listener, admin listener. main.ts wires it to the
 * process (config, signals, exit codes); tests start it in-process on ephemeral ports.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { AuditWriter } from './audit/writer.js';
import { buildCallbacks } from './callbacks/index.js';
import type { Config } from './config.js';
import { buildAccess, RELOADABLE } from './http/access.js';
import { createAdminApp, createApp, type Lifecycle } from './http/app.js';
import { answerClientErrors } from './http/client-errors.js';
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
  /** SIGTERM: stop accepting, answer in-flight requests, flush, sync, close. False if the grace ran out. */
  stop(): Promise<boolean>;
}

function listen(server: http.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export async function startService(config: Readonly<Config>, log: Logger): Promise<Service> {
  const metrics = createMetrics();
  const writer = new AuditWriter({
    path: config.audit.file,
    durability: config.audit.durability,
    maxQueueBytes: config.audit.maxQueueBytes,
    deadlineMs: config.limits.requestDeadlineMs,
    rotateCheckMs: config.audit.rotateCheckMs,
    checkEachBatch: config.audit.checkEachBatch,
    chain: config.audit.chain,
    log,
    onBatch: (b) => {
      metrics.bytes.inc(b.bytes);
      metrics.batchCallbacks.observe(b.callbacks);
      metrics.writeSeconds.observe(b.writeMs / 1000);
      if (config.audit.durability === 'fsync') metrics.syncSeconds.observe(b.syncMs / 1000);
    },
    onError: (code) => metrics.errors.inc({ type: code }),
  });
  await writer.start();
  const warnUnauthenticated = (apps: Config['apps']) => {
    for (const app of apps) {
      if (!app.tokens?.length) log.warn({ stage: 'receiving', sdkAppId: app.sdkAppId }, 'callbacks of this app are not authenticated: set a token');
    }
  };
  warnUnauthenticated(config.apps);
  metrics.buildInfo.labels(VERSION, process.version).set(1);

  const lifecycle: Lifecycle = { stopping: false };
  const access = { current: buildAccess(config) };
  const app = createApp({ config, access, writer, callbacks: buildCallbacks(config), metrics, log, lifecycle });
  const tlsFiles = () => config.tls && { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) };
  // Node checks header/request timeouts every connectionsCheckingInterval (default 30 s): check
  // often enough that the configured slow-client limits hold.
  const serverOpts = { connectionsCheckingInterval: Math.min(1000, Math.ceil(config.limits.headersTimeoutMs / 2)) };
  const server = config.tls
    ? https.createServer({ ...serverOpts, ...(tlsFiles() as https.ServerOptions) }, app.callback())
    : http.createServer(serverOpts, app.callback());
  server.headersTimeout = config.limits.headersTimeoutMs;
  server.requestTimeout = config.limits.requestTimeoutMs;
  server.keepAliveTimeout = config.limits.keepAliveTimeoutMs;
  server.maxConnections = config.limits.maxConnections;
  answerClientErrors(server, log, metrics);
  const admin = http.createServer(createAdminApp({ writer, metrics }).callback());

  let port: number;
  let adminPort: number;
  try {
    port = await listen(server, config.listen.host, config.listen.port);
    adminPort = await listen(admin, config.admin.host, config.admin.port);
  } catch (err) {
    server.close();
    await writer.close();
    throw err;
  }
  // Where it listens is said at any log level (but silent): with PORT=0 nothing else tells.
  const announce = log.level === 'silent' ? log : log.child({}, { level: 'info' });
  announce.info({ stage: 'receiving', host: config.listen.host, port, tls: Boolean(config.tls), version: VERSION, node: process.version }, 'listening');
  announce.info({ stage: 'receiving', host: config.admin.host, port: adminPort }, 'admin listening');
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
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      admin.close();
      admin.closeAllConnections();
      server.closeIdleConnections();
      let timer: NodeJS.Timeout | undefined;
      const inTime = await Promise.race([
        closed.then(() => true),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), config.shutdownGraceMs))),
      ]);
      clearTimeout(timer);
      if (!inTime) server.closeAllConnections();
      await writer.close();
      return inTime;
    },
  };
}
