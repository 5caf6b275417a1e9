/**
 * Restarts that refuse nothing (issue #11): the callback socket is held outside the service, as
 * systemd's member-exit-audit.socket holds it, and handed to each new process (LISTEN_FDS). Under
 * continuous load: a SIGTERM restart refuses and resets nothing; a kill -9 refuses nothing (only
 * the requests the killed process had in hand, never acknowledged, are reset); every acknowledged
 * member is in the file exactly once.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import t from 'tap';
import { parseLines } from '../helpers/lines.js';
import { sendMany } from '../helpers/load.js';
import { MAIN } from '../helpers/process.js';
import { readFileSync } from 'node:fs';

const HOLDER = new URL('../helpers/hold-socket.py', import.meta.url).pathname;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('restart and kill -9 under load with a held socket: 0 refused, nothing acknowledged lost', { timeout: 60000 }, async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'member-exit.ndjson');
  const holder = spawn('python3', [HOLDER, process.execPath, MAIN], {
    env: { PATH: process.env.PATH ?? '', AUDIT_FILE: file, ADMIN_PORT: '0', LOG_LEVEL: 'info' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  t.teardown(() => holder.kill('SIGKILL'));
  const pids: number[] = [];
  const logs: Record<string, unknown>[] = [];
  let port = 0;
  const waiters: (() => void)[] = [];
  createInterface({ input: holder.stdout }).on('line', (line) => {
    if (/^\d+$/.test(line)) {
      if (!port) port = Number(line);
      else pids.push(Number(line));
    } else {
      try {
        logs.push(JSON.parse(line));
      } catch {
        // not ours
      }
    }
    for (const w of waiters.splice(0)) w();
  });
  const until = async (pred: () => boolean) => {
    while (!pred()) await new Promise<void>((r) => waiters.push(r));
  };
  const listening = () => logs.filter((r) => r.msg === 'listening').length;
  const exited = (pid: number) => new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      try {
        process.kill(pid, 0);
      } catch {
        clearInterval(poll);
        resolve();
      }
    }, 20);
  });

  holder.stdin.write('start\n');
  await until(() => listening() === 1);
  t.match(logs.find((r) => r.msg === 'listening'), { activated: true, port }, 'the service took the held socket');

  let phase: 'graceful' | 'crash' = 'graceful';
  const errors = { graceful: [] as string[], crash: [] as string[] };
  let stop = false;
  const load = sendMany(port, {
    total: 10_000_000,
    connections: 16,
    stopWhen: () => stop,
    onError: (err) => errors[phase].push(err.code ?? err.message),
  });

  // systemctl restart: SIGTERM, wait for the exit, start again. The socket stays open throughout.
  await sleep(500);
  process.kill(pids[0]!, 'SIGTERM');
  await exited(pids[0]!);
  holder.stdin.write('start\n');
  await until(() => listening() === 2);
  await sleep(800);
  // A crash: kill -9, and systemd starts it again (here at once; RestartSec=1s in the unit).
  phase = 'crash';
  process.kill(pids[1]!, 'SIGKILL');
  await exited(pids[1]!);
  holder.stdin.write('start\n');
  await until(() => listening() === 3);
  await sleep(800);
  stop = true;
  const sent = await load;
  process.kill(pids[2]!, 'SIGTERM');
  await exited(pids[2]!);

  t.same(errors.graceful, [], 'restart: no connection refused or reset');
  t.equal(errors.crash.filter((c) => c === 'ECONNREFUSED').length, 0, `kill -9: no connection refused (${errors.crash.length} in-flight requests reset: ${[...new Set(errors.crash)].join(', ')})`);
  t.equal(sent.refused.length, 0, 'no FAIL reply');
  t.ok(sent.acked.length > 200, `${sent.acked.length} callbacks acknowledged across two restarts`);
  const lines = parseLines(readFileSync(file, 'utf8'), file);
  const counts = new Map<string, number>();
  for (const l of lines) counts.set(l.member, (counts.get(l.member) ?? 0) + 1);
  t.equal(sent.acked.flat().filter((m) => counts.get(m) !== 1).length, 0, 'every acknowledged member is in the file exactly once');
  t.ok(logs.some((r) => r.msg === 'stopped' && r.inTime === true), 'the SIGTERM drain finished in time');
});
