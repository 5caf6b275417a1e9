// The baseline: the same job as the service with bare node:http, JSON.parse and a hand-rolled
// append. No framework, no validation, no signatures, no metrics. It writes the same line bytes
// and commits the same way (all callbacks that arrive during a write share the next write; with
// DURABILITY=fsync each write is followed by fdatasync before anyone is answered), so the ratio
// service/baseline is the price of Koa, koa-bodyparser, TypeBox and the rest of the request path.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { dirname } from 'node:path';

const file = process.env.AUDIT_FILE;
const fsync = (process.env.DURABILITY ?? 'fsync') === 'fsync';
fs.mkdirSync(dirname(file), { recursive: true });
const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o640);
const OK = Buffer.from('{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}');

let queue = [];
let busy = false;
let batches = 0;
let callbacks = 0;
function flush() {
  if (busy || !queue.length) return;
  busy = true;
  const batch = queue;
  queue = [];
  const buf = Buffer.from(batch.map((b) => b.text).join(''));
  fs.write(fd, buf, 0, buf.length, null, (err) => {
    const done = (e) => {
      busy = false;
      batches++;
      callbacks += batch.length;
      for (const b of batch) b.done(e);
      flush();
    };
    if (err || !fsync) done(err);
    else fs.fdatasync(fd, done);
  });
}

const iso = (ms) => new Date(ms).toISOString();
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const receivedAt = Date.now();
    const q = new URL(req.url, 'http://x').searchParams;
    const b = JSON.parse(Buffer.concat(chunks).toString());
    let text = '';
    const eventTime = b.EventTime === undefined ? null : Number(b.EventTime);
    for (const m of b.ExitMemberList) {
      const id = createHash('sha256').update(JSON.stringify([q.get('SdkAppid'), b.GroupId, eventTime, b.ExitType, b.Operator_Account, m.Member_Account])).digest('hex').slice(0, 32);
      text += JSON.stringify({ time: iso(eventTime ?? receivedAt), event: 'group.member.exit', sdkAppId: q.get('SdkAppid'), groupId: b.GroupId, groupType: b.Type, exitType: b.ExitType, operator: b.Operator_Account, member: m.Member_Account, eventTime, receivedAt: iso(receivedAt), clientIp: q.get('ClientIP'), optPlatform: q.get('OptPlatform'), id }) + '\n';
    }
    queue.push({
      text,
      done: (err) => {
        res.writeHead(err ? 503 : 200, { 'content-type': 'application/json' });
        res.end(OK);
      },
    });
    setImmediate(flush);
  });
});
server.keepAliveTimeout = 65000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(JSON.stringify({ msg: 'listening', port: server.address().port }));
});
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  console.log(JSON.stringify({ msg: 'stats', batches, callbacks }));
  fs.closeSync(fd);
  process.exit(0);
});
