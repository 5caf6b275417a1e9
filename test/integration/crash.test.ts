/**
 * Crash: under load, kill -9 the service at random moments, 20 times, restarting it each time.
 * Every acknowledged member line is in the file exactly once, and no line is torn.
 */
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseLines } from '../helpers/lines.js';
import { sendMany } from '../helpers/load.js';
import { runListening } from '../helpers/process.js';
import { compareMembers } from '../helpers/rotated.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('kill -9 under load, 20 times: every ack survives exactly once, nothing torn', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mea-crash-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'member-exit.ndjson');
  const acked: string[] = [];
  let lost = 0;
  for (let round = 0; round < 20; round++) {
    const p = await runListening([], { AUDIT_FILE: file, LOG_LEVEL: 'info' }, dir);
    let stop = false;
    const load = sendMany(p.port, { total: 1_000_000, connections: 16, prefix: `r${round}`, stopWhen: () => stop });
    await sleep(100 + Math.floor(Math.random() * 300));
    p.child.kill('SIGKILL');
    await p.exited;
    stop = true;
    const sent = await load;
    acked.push(...sent.acked.flat());
    lost += sent.errors.length;
  }
  // The last start cuts any torn tail; then a clean stop.
  const last = await runListening([], { AUDIT_FILE: file }, dir);
  const cut = last.logs.find((r) => r.msg === 'cut torn tail of audit file');
  last.child.kill('SIGTERM');
  t.equal((await last.exited).code, 0);
  const lines = parseLines(readFileSync(file, 'utf8'), file);
  t.ok(acked.length > 1000, `${acked.length} member lines acknowledged over 20 crashes; ${lost} requests cut off by the kills`);
  t.comment(cut ? `a torn tail of ${cut.bytes} bytes was cut at the last start` : 'no torn tail was left by the last crash');
  const cmp = compareMembers(acked, lines);
  t.same(cmp.missing, [], 'no acknowledged line is missing');
  t.same(cmp.duplicated, [], 'no line is written twice');
  t.ok(cmp.unexpected.length <= lost * 3, `${cmp.unexpected.length} lines of callbacks written but not acknowledged before the kill`);
});
