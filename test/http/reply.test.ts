import http from 'node:http';
import t from 'tap';
import { pino } from 'pino';
import { AuditWriter } from '../../src/audit/writer.js';
import { buildAccess } from '../../src/http/access.js';
import { createApp } from '../../src/http/app.js';
import { guardConnections } from '../../src/http/connections.js';
import { createMetrics } from '../../src/metrics.js';
import { memoryLog } from '../helpers/log.js';
import { exitBody, post, testConfig } from '../helpers/service.js';

t.test('a bug becomes 500 INTERNAL; its message never reaches the client, it is logged at error', async (t) => {
  const config = testConfig(t, { limits: { requestDeadlineMs: 200 } });
  const writer = new AuditWriter({ path: config.audit.file, durability: 'write', maxQueueBytes: 1 << 20, deadlineMs: 1500, rotateCheckMs: 1000, log: pino({ level: 'silent' }) });
  await writer.start();
  t.teardown(() => writer.close());
  const { log, records } = memoryLog();
  const broken = {
    command: 'Group.CallbackAfterMemberExit',
    toLines: () => {
      throw new Error('secret internal detail');
    },
  };
  const server = http.createServer();
  const guard = guardConnections(server, { maxConnections: 10, maxPerSource: 10, exempt: () => () => false, headersTimeoutMs: 10000, log, onClose: () => {}, timeoutReply: () => '' });
  const app = createApp({ config, access: { current: buildAccess(config) }, writer, callbacks: new Map([[broken.command, broken]]), metrics: createMetrics(), log, lifecycle: { stopping: false }, guard });
  server.on('request', app.callback());
  server.listen(0, '127.0.0.1');
  t.teardown(() => (guard.stop(), server.close()));
  await new Promise((r) => server.once('listening', r));
  const started = Date.now();
  const res = await post((server.address() as import('node:net').AddressInfo).port, exitBody());
  t.ok(Date.now() - started >= 190, 'held to the deadline: a fault after the checks is never a quick failure');
  t.same({ status: res.status, body: res.json }, { status: 500, body: { ActionStatus: 'FAIL', ErrorInfo: 'internal error', ErrorCode: 50001 } });
  t.notMatch(res.text, 'secret');
  const logged = records.filter((r) => r.msg === 'request failed');
  t.equal(logged.length, 1);
  t.match(logged[0], { level: 50, cause: /secret internal detail/ });
});
