import t from 'tap';
import { pino } from 'pino';
import { AuditWriter } from '../../src/audit/writer.js';
import { buildAccess } from '../../src/http/access.js';
import { createApp } from '../../src/http/app.js';
import { createMetrics } from '../../src/metrics.js';
import { memoryLog } from '../helpers/log.js';
import { exitBody, post, testConfig } from '../helpers/service.js';

t.test('a bug becomes 500 INTERNAL; its message never reaches the client, it is logged at error', async (t) => {
  const config = testConfig(t);
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
  const app = createApp({ config, access: { current: buildAccess(config) }, writer, callbacks: new Map([[broken.command, broken]]), metrics: createMetrics(), log, lifecycle: { stopping: false } });
  const server = app.listen(0, '127.0.0.1');
  t.teardown(() => server.close());
  await new Promise((r) => server.once('listening', r));
  const res = await post((server.address() as import('node:net').AddressInfo).port, exitBody());
  t.same({ status: res.status, body: res.json }, { status: 500, body: { ActionStatus: 'FAIL', ErrorInfo: 'internal error', ErrorCode: 50001 } });
  t.notMatch(res.text, 'secret');
  const logged = records.filter((r) => r.msg === 'request failed');
  t.equal(logged.length, 1);
  t.match(logged[0], { level: 50, cause: /secret internal detail/ });
});
