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
import { createAdminApp, createApp, type Lifecycle } from './http/app.js';
import { createMetrics } from './metrics.js';

export interface Service {
  port: number;
  adminPort: number;
  writer: AuditWriter;
  /** SIGHUP: reopen the audit file, reload TLS files. */
  reload(): void;
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
  writer.start();
  for (const app of config.apps) {
    if (app.token === undefined) log.warn({ stage: 'receiving', sdkAppId: app.sdkAppId }, 'callbacks of this app are not authenticated: set a token');
  }

  const lifecycle: Lifecycle = { stopping: false };
  const app = createApp({ config, writer, callbacks: buildCallbacks(config.limits), metrics, log, lifecycle });
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
  log.info({ stage: 'receiving', host: config.listen.host, port, tls: Boolean(config.tls) }, 'listening');
  log.info({ stage: 'receiving', host: config.admin.host, port: adminPort }, 'admin listening');

  return {
    port,
    adminPort,
    writer,
    reload() {
      writer.reopen();
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
