/**
 * The central store, for real (issue #20): PostgreSQL started here with the shipped table
 * (config/postgresql/member-exit-audit.sql), Debian's rsyslog with the shipped
 * config/shippers/rsyslog-pgsql.conf reading both instances' trails, the two instances behind
 * Debian's HAProxy with the shipped config, and a client that delivers as Tencent's IM backend
 * does. Meanwhile: rotations with the shipped logrotate config, rsyslog restarted, a rotation while
 * rsyslog is stopped, an instance killed under load, PostgreSQL restarted. Afterwards the store
 * holds one row per exit sent, no exit twice, each row equal to its line in the files; and the
 * catch-up from the files finds nothing to add.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import t from 'tap';
import { haproxy, instance, union } from '../helpers/fleet.js';
import { imBackend, tally } from '../helpers/im-backend.js';
import { postgres } from '../helpers/postgres.js';
import { logrotateConfig, shipperDirs, storeShipperConfig } from '../helpers/shipper.js';
import { requireTool } from '../helpers/tools.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const TENCENT = { timeoutMs: 2000, resends: 2, resendGapMs: 1000 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// Longer than the 120 s tap gives a file (package.json): on a machine loaded by other work, one run
// took 130 s.
t.setTimeout(300000);

/** The columns of a row, in the line's own terms (times as the line writes them). */
const ROW = `json_build_object('id', id, 'line', line,
  'time', to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'event', event, 'sdkAppId', sdk_app_id,
  'groupId', group_id, 'groupType', group_type, 'exitType', exit_type, 'operator', operator, 'member', member,
  'eventTime', event_time, 'receivedAt', to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
  'clientIp', client_ip, 'optPlatform', opt_platform, 'prev', prev)`;
const FIELDS = ['id', 'time', 'event', 'sdkAppId', 'groupId', 'groupType', 'exitType', 'operator', 'member', 'eventTime', 'receivedAt', 'clientIp', 'optPlatform', 'prev'] as const;

t.test('two instances, rotations, restarts and a kill: the store holds every exit sent once, as written', { timeout: 240000 }, async (t) => {
  const rsyslogd = requireTool(t, 'rsyslogd');
  const logrotate = requireTool(t, 'logrotate');
  const haproxyBin = requireTool(t, 'haproxy');
  if (!rsyslogd || !logrotate || !haproxyBin) return;
  const pg = await postgres(t);
  if (!pg) return;
  pg.sql(readFileSync(join(ROOT, 'config/postgresql/member-exit-audit.sql'), 'utf8'));

  const { dir, logs, work } = shipperDirs(t, 'store');
  // The templated units' layout: one folder per instance (docs/scaling.md).
  const a = await instance(t, 'a', join(logs, 'a', 'member-exit.ndjson'));
  const b = await instance(t, 'b', join(logs, 'b', 'member-exit.ndjson'));
  const lb = await haproxy(t, haproxyBin, dir, a, b);

  const conf = join(dir, 'rsyslog.conf');
  writeFileSync(conf, storeShipperConfig(t, { logs, work, uri: pg.uri, psql: pg.psql }));
  execFileSync(rsyslogd, ['-N1', '-f', conf], { stdio: 'pipe' });
  // rsyslog's own messages (imfile, omprog, queues): shown when the store comes up short.
  let rsLog = '';
  let rs: ChildProcess | undefined;
  const rsyslog = () => {
    const c = spawn(rsyslogd, ['-n', '-f', conf, '-i', join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
    c.stdout!.on('data', (d) => (rsLog += d));
    c.stderr!.on('data', (d) => (rsLog += d));
    return (rs = c);
  };
  rsyslog();
  const stopRsyslog = () => new Promise((r) => (rs!.exitCode !== null ? r(null) : (rs!.once('exit', r), rs!.kill('SIGTERM'))));
  t.teardown(() => rs?.kill('SIGKILL'));

  // Both instances' files at once (the shipped config's path made a glob), reopened by SIGHUP or,
  // every other time, by the service noticing the rename itself.
  const rotate = (hup: boolean) => {
    const cfg = join(dir, 'logrotate.conf');
    logrotateConfig(t, cfg, join(logs, '*', 'member-exit.ndjson'), hup ? `kill -HUP ${a.proc.child.pid} ${b.proc.child.pid}` : null);
    execFileSync(logrotate, ['-f', '-s', join(dir, 'logrotate.state'), cfg]);
  };

  const steps: string[] = [];
  const started = Date.now();
  const step = async (what: string, fn: () => unknown) => {
    steps.push(`${((Date.now() - started) / 1000).toFixed(1)} s ${what}`);
    await fn();
  };
  const faults = (async () => {
    await sleep(2000);
    await step('rotate (SIGHUP)', () => rotate(true));
    await sleep(2000);
    await step('rotate (no signal)', () => rotate(false));
    await sleep(2000);
    await step('rsyslog restarted', async () => {
      await stopRsyslog();
      rsyslog();
    });
    await sleep(2000);
    await step('rotate (SIGHUP)', () => rotate(true));
    await sleep(2000);
    await step('rsyslog stopped, rotate, rsyslog started', async () => {
      await stopRsyslog();
      await sleep(300);
      rotate(true);
      await sleep(700);
      rsyslog();
    });
    await sleep(2500);
    await step('kill -9 a, started again', async () => {
      await a.stop('SIGKILL');
      await sleep(1000);
      await a.start();
    });
    await sleep(2000);
    await step('PostgreSQL restarted', () => pg.restart(1000));
    await sleep(2000);
    await step('rotate (no signal)', () => rotate(false));
  })();
  const run = await imBackend({ port: lb.port, connections: 8, prefix: 'st', durationMs: 24000, ...TENCENT });
  await faults;
  await sleep(1000);
  await Promise.all([a.stop('SIGTERM'), b.stop('SIGTERM')]);

  // The trails first: every exit sent is in one of them (HAProxy's part).
  const trail = tally(run, union(a.file, b.file));
  t.same(trail.missing, [], 'every exit sent is recorded in one of the two trails');
  const files = ['a', 'b'].flatMap((i) => readdirSync(join(logs, i)).map((f) => join(logs, i, f)));
  const onDisk = files.flatMap((f) => {
    const raw = readFileSync(f);
    return (raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw).toString('utf8').split('\n').slice(0, -1);
  });
  // The lines of each id: two when both instances wrote an exit (they differ in receivedAt).
  const byId = new Map<string, string[]>();
  for (const l of onDisk) {
    const id = (JSON.parse(l) as { id: string }).id;
    byId.set(id, [...(byId.get(id) ?? []), l]);
  }

  // Then the store, once rsyslog has shipped what it will: every id on disk, or no new row for 10 s
  // (after PostgreSQL's restart rsyslog retries at growing intervals).
  let rows = 0;
  for (let waited = 0, last = -1, same = 0; waited < 120000 && same < 20 && rows < byId.size; waited += 500) {
    await sleep(500);
    rows = Number(pg.sql('SELECT count(*) FROM member_exit_audit'));
    same = rows === last ? same + 1 : 0;
    last = rows;
  }
  await stopRsyslog();
  const stored = pg
    .sql(`SELECT ${ROW} FROM member_exit_audit`)
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown> & { id: string; member: string; line: string });
  const members = new Set(stored.map((r) => r.member));
  t.comment(steps.join('; '));
  t.comment(trail.summary);
  t.comment(`store: sent ${run.sent.size}, recorded ${run.sent.size - trail.missing.length} (twice ${trail.twice}), ${onDisk.length} lines in the trails, ${stored.length} rows`);
  if (stored.length !== run.sent.size) {
    // Where the missing exits' lines are, by file: which reader let them go.
    const storedIds = new Set(stored.map((r) => r.id));
    const where = new Map<string, number>();
    for (const f of files) {
      const raw = readFileSync(f);
      const lines = (raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw).toString('utf8').split('\n').slice(0, -1);
      const missing = lines.map((l, i) => [(JSON.parse(l) as { id: string }).id, i] as const).filter(([id]) => !storedIds.has(id));
      if (missing.length) where.set(`${f.slice(logs.length + 1)} (${lines.length} lines)`, missing.length), t.comment(`${f.slice(logs.length + 1)}: missing lines ${missing[0]![1]}..${missing.at(-1)![1]} of ${lines.length}`);
    }
    t.comment(`missing by file: ${JSON.stringify([...where])}`);
    t.comment(`rsyslog: ${rsLog.slice(-3000)}`);
    t.comment(`psql: ${(() => { try { return readFileSync(join(work, 'psql.log'), 'utf8').slice(-2000); } catch { return '(none)'; } })()}`);
  }
  t.equal(stored.length, run.sent.size, `rows in the store (${stored.length}) = distinct exits sent (${run.sent.size})`);
  t.same([...run.sent].filter((m) => !members.has(m)), [], 'every exit sent has its row');
  t.equal(members.size, stored.length, 'no exit has two rows');
  const unequal = stored.filter((r) => {
    if (!(byId.get(r.id) ?? []).includes(r.line)) return true;
    const line = JSON.parse(r.line) as Record<string, unknown>;
    return FIELDS.some((f) => (r[f] ?? null) !== (line[f] ?? null));
  });
  t.same(unequal.slice(0, 3), [], 'every row is a line of the files, byte for byte, and its columns are that line\'s fields');
  t.equal(pg.sql('SELECT count(*) FROM member_exit_audit_rejected').trim(), '0', 'no line was rejected');

  // The documented catch-up over every file of both trails: nothing new, nothing changed.
  const lines = execFileSync(process.execPath, [join(ROOT, 'dist/cli.js'), 'query', ...files], { maxBuffer: 1 << 30 });
  const catchUp = execFileSync(pg.psql, ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', pg.uri, '-f', join(ROOT, 'config/postgresql/catch-up.sql')], { input: lines, encoding: 'utf8' }).trim();
  t.equal(catchUp, `${onDisk.length}|0|0`, `the catch-up read ${onDisk.length} lines and stored none: the store was complete`);

  // A seal line (issue #21) goes to the seals' table, once, and is never rejected.
  const seal = `{"time":"2026-12-03T00:15:00.000Z","event":"seal","epoch":1,"final":true,"key":"0123456789abcdef","id":"${'e'.repeat(32)}","mac":"${'a'.repeat(64)}","prev":"${'b'.repeat(64)}"}`;
  t.equal(pg.sql(`SELECT member_exit_audit_ingest('${seal}')`).trim(), 't', 'a seal is stored');
  t.equal(pg.sql(`SELECT member_exit_audit_ingest('${seal}')`).trim(), 'f', 'and once');
  t.equal(pg.sql(`SELECT epoch || ' ' || final || ' ' || (line = '${seal}') FROM member_exit_audit_seal`).trim(), '1 true true', 'in the seals\' table, byte for byte');
  t.equal(pg.sql('SELECT count(*) FROM member_exit_audit_rejected').trim(), '0', 'not rejected');
});
