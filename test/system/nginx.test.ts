/**
 * Beyond one machine: two instances, each with its own file, behind Debian's nginx as a
 * round-robin upstream. Every acknowledged callback lands exactly once across the two files, and
 * stopping one instance mid-load loses nothing that was acknowledged.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { readLines } from '../helpers/lines.js';
import { sendMany } from '../helpers/load.js';
import { runListening } from '../helpers/process.js';
import { compareMembers } from '../helpers/rotated.js';
import { requireTool } from '../helpers/tools.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

t.test('two instances behind nginx: exactly once across both files, one stopped mid-load', async (t) => {
  const nginx = requireTool(t, 'nginx');
  if (!nginx) return;
  const dir = mkdtempSync(join(tmpdir(), 'mea-nginx-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const a = await runListening([], { AUDIT_FILE: join(dir, 'a', 'member-exit.ndjson') }, dir);
  const b = await runListening([], { AUDIT_FILE: join(dir, 'b', 'member-exit.ndjson') }, dir);
  t.teardown(() => (a.child.kill('SIGKILL'), b.child.kill('SIGKILL')));
  const port = await freePort();
  mkdirSync(join(dir, 'nginx'));
  writeFileSync(
    join(dir, 'nginx', 'nginx.conf'),
    `worker_processes 1;
daemon off;
pid ${dir}/nginx/nginx.pid;
error_log ${dir}/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/nginx/body;
  proxy_temp_path ${dir}/nginx/proxy;
  fastcgi_temp_path ${dir}/nginx/fastcgi;
  uwsgi_temp_path ${dir}/nginx/uwsgi;
  scgi_temp_path ${dir}/nginx/scgi;
  upstream member_exit_audit {
    server 127.0.0.1:${a.port} max_fails=0;
    server 127.0.0.1:${b.port} max_fails=0;
  }
  server {
    listen 127.0.0.1:${port};
    client_max_body_size 1m;
    location = / {
      proxy_pass http://member_exit_audit;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      # A POST is passed to the other instance only when it was never sent to the first
      # (connection refused): nothing acknowledged can be written twice.
      proxy_next_upstream error timeout;
    }
  }
}
`,
  );
  const proxy = spawn(nginx, ['-e', `${dir}/nginx/error.log`, '-p', `${dir}/nginx`, '-c', `${dir}/nginx/nginx.conf`], { stdio: 'ignore' });
  t.teardown(() => proxy.kill('SIGKILL'));
  for (let i = 0; i < 50; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (up) break;
    await sleep(100);
  }

  let stop = false;
  const load = sendMany(port, { total: 1_000_000, connections: 16, stopWhen: () => stop });
  await sleep(1500);
  b.child.kill('SIGTERM');
  t.same(await b.exited, { code: 0, signal: null }, 'instance b drained and stopped');
  await sleep(1500);
  stop = true;
  const sent = await load;
  a.child.kill('SIGTERM');
  await a.exited;
  proxy.kill('SIGTERM');

  const linesA = readLines(join(dir, 'a', 'member-exit.ndjson'));
  const linesB = readLines(join(dir, 'b', 'member-exit.ndjson'));
  t.ok(linesA.length > 100 && linesB.length > 100, `both instances wrote: a ${linesA.length}, b ${linesB.length} lines`);
  t.ok(sent.acked.length > 500, `${sent.acked.length} callbacks acknowledged, ${sent.refused.length} refused (${[...new Set(sent.refused.map((r) => r.status))].join(',')}), ${sent.errors.length} errors`);
  const cmp = compareMembers(sent.acked.flat(), [...linesA, ...linesB]);
  t.same(cmp.missing, [], 'every acknowledged member is in one of the files');
  t.same(cmp.duplicated, [], 'none is in both, or twice');
  // A refused request may still have been written (nginx gave up on a reply already on its way);
  // retried with the same EventTime it keeps its id, so deduplication on id absorbs it.
  t.ok(cmp.unexpected.length <= sent.refused.length * 3, `${cmp.unexpected.length} lines of unacknowledged callbacks`);
});
