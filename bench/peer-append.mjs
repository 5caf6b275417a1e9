// What the bench's peers share (bench/baseline.mjs, bench/koa-peer.mjs): the same line bytes as
// the service, and the same group commit: every callback that arrives during a write goes in the
// next one; with DURABILITY=fsync each write is followed by fdatasync before anyone is answered.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { dirname } from 'node:path';

const iso = (ms) => new Date(ms).toISOString();

/** The NDJSON lines of one parsed member-exit body, as the service writes them. */
export function linesOf(q, b, receivedAt) {
  let text = '';
  const eventTime = b.EventTime === undefined ? null : Number(b.EventTime);
  for (const m of b.ExitMemberList) {
    const id = createHash('sha256').update(JSON.stringify([q.get('SdkAppid'), b.GroupId, eventTime, b.ExitType, b.Operator_Account, m.Member_Account])).digest('hex').slice(0, 32);
    text += JSON.stringify({ time: iso(eventTime ?? receivedAt), event: 'group.member.exit', sdkAppId: q.get('SdkAppid'), groupId: b.GroupId, groupType: b.Type, exitType: b.ExitType, operator: b.Operator_Account, member: m.Member_Account, eventTime, receivedAt: iso(receivedAt), clientIp: q.get('ClientIP'), optPlatform: q.get('OptPlatform'), id }) + '\n';
  }
  return text;
}

/** Group-commit appends to AUDIT_FILE: `append(text)` resolves once the text is written (and synced). */
export function appender(file = process.env.AUDIT_FILE, fsync = (process.env.DURABILITY ?? 'fsync') === 'fsync') {
  fs.mkdirSync(dirname(file), { recursive: true });
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o640);
  let queue = [];
  let busy = false;
  const stats = { batches: 0, callbacks: 0 };
  const flush = () => {
    if (busy || !queue.length) return;
    busy = true;
    const batch = queue;
    queue = [];
    const buf = Buffer.from(batch.map((b) => b.text).join(''));
    fs.write(fd, buf, 0, buf.length, null, (err) => {
      const done = (e) => {
        busy = false;
        stats.batches++;
        stats.callbacks += batch.length;
        for (const b of batch) b.done(e);
        flush();
      };
      if (err || !fsync) done(err);
      else fs.fdatasync(fd, done);
    });
  };
  return {
    stats,
    append: (text) =>
      new Promise((resolve, reject) => {
        queue.push({ text, done: (e) => (e ? reject(e) : resolve()) });
        setImmediate(flush);
      }),
    close: () => fs.closeSync(fd),
  };
}

/**
 * Listen on PORT (0: any) on 127.0.0.1 and say so on stdout as bench/run.mjs expects; on SIGTERM
 * close, print the appender's stats and exit. Both peers (baseline.mjs, koa-peer.mjs) end so.
 */
export function serve(server, out) {
  server.keepAliveTimeout = 65000;
  server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
    console.log(JSON.stringify({ msg: 'listening', port: server.address().port }));
  });
  process.on('SIGTERM', () => {
    server.close();
    server.closeAllConnections();
    console.log(JSON.stringify({ msg: 'stats', ...out.stats }));
    out.close();
    process.exit(0);
  });
}
