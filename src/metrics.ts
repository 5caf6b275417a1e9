/**
 * Prometheus metrics (prom-client), served on the admin listener. Label values are bounded: a
 * command is either one we handle or `other`, a result is `ok` or an error code from src/errors.ts.
 */
import client from 'prom-client';

export type Metrics = ReturnType<typeof createMetrics>;

export function createMetrics() {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  // The request path's success counts as plain numbers, folded into their counters when the
  // registry is read (prom-client's `collect`): an `inc()` hashes its labels into a string on every
  // call, twice per callback (issue #24). Errors are rare and counted directly.
  const okSince = new Map<string, number>();
  let linesSince = 0;
  const m = {
    registry,
    callbacks: new client.Counter({
      name: 'member_exit_audit_callbacks_total',
      help: 'Callback requests answered, by command (handled or "other") and result ("ok" or an error code)',
      labelNames: ['command', 'result'] as const,
      registers: [registry],
      collect() {
        for (const [command, n] of okSince) if (n) this.inc({ command, result: 'ok' }, n);
        okSince.clear();
      },
    }),
    lines: new client.Counter({
      name: 'member_exit_audit_lines_written_total',
      help: 'Audit lines acknowledged',
      registers: [registry],
      collect() {
        if (linesSince) this.inc(linesSince);
        linesSince = 0;
      },
    }),
    /** A callback answered OK (`command`: a handled one, or "other"), having written `lines` lines. */
    answeredOk(command: string, lines = 0): void {
      okSince.set(command, (okSince.get(command) ?? 0) + 1);
      linesSince += lines;
    },
    bytes: new client.Counter({ name: 'member_exit_audit_bytes_written_total', help: 'Bytes written to the audit file', registers: [registry] }),
    writeSeconds: new client.Histogram({
      name: 'member_exit_audit_write_seconds',
      help: 'Time of one batched write()',
      buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    syncSeconds: new client.Histogram({
      name: 'member_exit_audit_fsync_seconds',
      help: 'Time of one fdatasync() (durability fsync)',
      buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    answerSeconds: new client.Histogram({
      name: 'member_exit_audit_callback_seconds',
      help: "From an audited callback's request to its OK reply, lines written (and synced): how far from the IM backend's 2 s timeout",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3],
      registers: [registry],
    }),
    batchCallbacks: new client.Histogram({
      name: 'member_exit_audit_batch_callbacks',
      help: 'Callbacks per write (group commit)',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers: [registry],
    }),
    errors: new client.Counter({
      name: 'member_exit_audit_errors_total',
      help: 'Errors by type (an error code from docs/errors.md, or OPEN_FAILED)',
      labelNames: ['type'] as const,
      registers: [registry],
    }),
    retries: new client.Counter({ name: 'member_exit_audit_write_retries_total', help: 'Writes that failed, were cut back and will be tried again (nothing is dropped)', registers: [registry] }),
    duplicateLines: new client.Counter({ name: 'member_exit_audit_lines_duplicate_total', help: 'Lines not written again: their id was taken in within audit.dedupWindowMs (a resend)', registers: [registry] }),
    lateLines: new client.Counter({ name: 'member_exit_audit_lines_late_total', help: 'Lines written after their caller had been answered 503 at its deadline', registers: [registry] }),
    waiting: new client.Gauge({ name: 'member_exit_audit_waiting_callbacks', help: 'Callbacks waiting for their lines to reach the disk, or for room in the queue', registers: [registry] }),
    connectionsClosed: new client.Counter({
      name: 'member_exit_audit_connections_closed_total',
      help: 'Connections the service closed to keep the listener fair: per_source, limit (the new one refused), reclaimed (an idle one closed for a new one), headers_timeout',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    connections: new client.Gauge({ name: 'member_exit_audit_connections', help: 'Open connections on the callback listener', registers: [registry] }),
    queueBytes: new client.Gauge({ name: 'member_exit_audit_queue_bytes', help: 'Bytes waiting for the disk', registers: [registry] }),
    reopens: new client.Gauge({ name: 'member_exit_audit_file_opens', help: 'Times the audit file was opened (start, SIGHUP, rotation seen)', registers: [registry] }),
    buildInfo: new client.Gauge({
      name: 'member_exit_audit_build_info',
      help: 'Always 1; its labels say which version runs on which Node.js',
      labelNames: ['version', 'node'] as const,
      registers: [registry],
    }),
    ready: new client.Gauge({ name: 'member_exit_audit_ready', help: '1 when the audit file is writable and the writer not overloaded', registers: [registry] }),
  };
  return m;
}
