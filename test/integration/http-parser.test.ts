/**
 * Requests Node's HTTP parser refuses (issue #12 item 8): each gets the FAIL reply of the error
 * table with Connection: close, one warn line and a metric; nothing is written, the service goes on.
 */
import { statSync } from 'node:fs';
import net from 'node:net';
import t from 'tap';
import { startService } from '../../src/service.js';
import { memoryLog } from '../helpers/log.js';
import { exitBody, post, request, testConfig } from '../helpers/service.js';

/** Write raw bytes, read everything until the server closes. */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let got = '';
    sock.on('data', (d) => (got += d));
    sock.on('close', () => resolve(got));
    sock.on('error', reject);
    sock.end(bytes);
  });
}

const PATH = '/?SdkAppid=1400000000&CallbackCommand=Group.CallbackAfterMemberExit';
const BODY = JSON.stringify(exitBody());

t.test('parser refusals are FAIL replies with a warn line and a metric', async (t) => {
  const config = testConfig(t);
  const { log, records } = memoryLog();
  const svc = await startService(config, log);
  t.teardown(() => svc.stop());
  const cases: [string, string, number, number, string][] = [
    ['Content-Length with Transfer-Encoding (smuggling)', `POST ${PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: ${BODY.length}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400, 40007, 'BAD_REQUEST'],
    ['two Content-Length headers', `POST ${PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!`, 400, 40007, 'BAD_REQUEST'],
    ['bad chunk size', `POST ${PATH} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n`, 400, 40007, 'BAD_REQUEST'],
    ['garbage request line', 'GARBAGE\u0001 / HTTP/1.1\r\n\r\n', 400, 40007, 'BAD_REQUEST'],
    ['headers over 16 KiB', `POST ${PATH} HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`, 431, 43101, 'HEADERS_TOO_LARGE'],
    ['Expect other than 100-continue', `POST ${PATH} HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`, 417, 41701, 'EXPECTATION_FAILED'],
  ];
  for (const [name, bytes, status, errorCode, code] of cases) {
    const before = records.length;
    const reply = await raw(svc.port, bytes);
    t.match(reply, new RegExp(`^HTTP/1\\.1 ${status} `), `${name}: ${status}`);
    t.match(reply, /\r\nconnection: close\r\n/i, `${name}: Connection: close`);
    const json = JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4));
    t.same({ ActionStatus: json.ActionStatus, ErrorCode: json.ErrorCode }, { ActionStatus: 'FAIL', ErrorCode: errorCode }, `${name}: FAIL ${errorCode}`);
    const logged = records.slice(before).filter((r) => r.msg === 'request refused');
    t.equal(logged.length, 1, `${name}: logged once`);
    t.match(logged[0], { level: 40, err: { code } });
  }
  const metrics = await request(svc.adminPort, { method: 'GET', path: '/metrics' });
  t.match(metrics.text, /member_exit_audit_callbacks_total\{command="other",result="BAD_REQUEST"\} 4/);
  t.match(metrics.text, /member_exit_audit_callbacks_total\{command="other",result="HEADERS_TOO_LARGE"\} 1/);
  t.match(metrics.text, /member_exit_audit_callbacks_total\{command="other",result="EXPECTATION_FAILED"\} 1/);
  t.equal(statSync(config.audit.file).size, 0, 'nothing written');
  t.equal((await post(svc.port, exitBody())).status, 200, 'the service goes on');
});
