import t from 'tap';
import { VERSION } from '../../src/version.js';
import { exitBody, post, request, startTest } from '../helpers/service.js';

const metric = (text: string, name: string): number => {
  const m = new RegExp(`^${name.replace(/[{}"=.]/g, '\\$&')} ([0-9.e+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
};

t.test('GET /metrics: Prometheus text with callbacks, lines, bytes, latencies, batches, process metrics', async (t) => {
  const svc = await startTest(t);
  await post(svc.port, exitBody({ ExitMemberList: [{ Member_Account: 'a' }, { Member_Account: 'b' }] }));
  await post(svc.port, exitBody());
  await post(svc.port, exitBody({ ExitType: 'nope' }));
  await post(svc.port, { CallbackCommand: 'State.StateChange' }, { CallbackCommand: 'State.StateChange' });
  const res = await request(svc.adminPort, { method: 'GET', path: '/metrics' });
  t.equal(res.status, 200);
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  const m = res.text;
  t.equal(metric(m, 'member_exit_audit_callbacks_total{command="Group.CallbackAfterMemberExit",result="ok"}'), 2);
  t.equal(metric(m, 'member_exit_audit_callbacks_total{command="Group.CallbackAfterMemberExit",result="INVALID_CALLBACK"}'), 1);
  t.equal(metric(m, 'member_exit_audit_callbacks_total{command="other",result="ok"}'), 1, 'other commands are counted, not written');
  t.equal(metric(m, 'member_exit_audit_lines_written_total'), 3);
  t.ok(metric(m, 'member_exit_audit_bytes_written_total') > 900);
  t.equal(metric(m, 'member_exit_audit_write_seconds_count'), 2);
  t.equal(metric(m, 'member_exit_audit_fsync_seconds_count'), 2);
  t.equal(metric(m, 'member_exit_audit_batch_callbacks_count'), 2);
  t.equal(metric(m, 'member_exit_audit_callback_seconds_count'), 2, 'the two written callbacks timed, not the refused one nor the other command');
  t.equal(metric(m, 'member_exit_audit_callback_seconds_bucket{le="3"}'), 2);
  t.ok(metric(m, 'member_exit_audit_callback_seconds_sum') < 3);
  t.equal(metric(m, 'member_exit_audit_queue_bytes'), 0);
  t.equal(metric(m, 'member_exit_audit_file_opens'), 1);
  t.equal(metric(m, 'member_exit_audit_ready'), 1);
  t.ok(metric(m, 'process_resident_memory_bytes') > 0, 'default process metrics');
  t.match(m, new RegExp(`^member_exit_audit_build_info\\{version="${VERSION.replace(/\./g, '\\.')}",node="${process.version.replace(/\./g, '\\.')}"\\} 1$`, 'm'), 'build_info: which version on which Node.js');
  t.ok(metric(m, 'nodejs_eventloop_lag_seconds') >= 0);
});

t.test('/healthz and /readyz; the admin port serves nothing else', async (t) => {
  const svc = await startTest(t);
  t.same((await request(svc.adminPort, { method: 'GET', path: '/healthz' })).json, { status: 'ok' });
  t.same((await request(svc.adminPort, { method: 'GET', path: '/readyz' })).json, { status: 'ready', queueBytes: 0 });
  t.equal((await request(svc.adminPort, { method: 'POST', path: '/' })).status, 404);
  t.equal((await request(svc.port, { method: 'GET', path: '/metrics' })).status, 404, 'the callback port has no metrics');
});

t.test('an audit file that cannot be opened: /readyz 503, callbacks 503 NOT_READY, errors counted', async (t) => {
  // A path under a regular file cannot be created (ENOTDIR), whoever runs the test.
  const svc = await startTest(t, { audit: { file: '/dev/null/member-exit.ndjson' }, limits: { requestDeadlineMs: 300 }, shutdownGraceMs: 500 });
  const ready = await request(svc.adminPort, { method: 'GET', path: '/readyz' });
  t.equal(ready.status, 503);
  t.same(ready.json, { status: 'not ready', queueBytes: 0 });
  t.same(await request(svc.adminPort, { method: 'GET', path: '/healthz' }).then((r) => r.status), 200, 'alive all the same');
  const res = await post(svc.port, exitBody());
  t.same({ status: res.status, code: res.json.ErrorCode }, { status: 503, code: 50304 });
  const m = (await request(svc.adminPort, { method: 'GET', path: '/metrics' })).text;
  t.ok(metric(m, 'member_exit_audit_errors_total{type="OPEN_FAILED"}') >= 1);
  t.equal(metric(m, 'member_exit_audit_errors_total{type="NOT_READY"}'), 1);
  t.equal(metric(m, 'member_exit_audit_ready'), 0);
  t.equal(metric(m, 'member_exit_audit_waiting_callbacks'), 0, 'its caller was answered; its line waits in the queue');
  t.ok(metric(m, 'member_exit_audit_queue_bytes') > 0);
  t.equal(await svc.stop(), false, 'a stop with a line that could never be written says so');
});
