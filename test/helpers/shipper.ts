/** What the shipper and rotation tests share: the shipped configs pointed at a test folder. */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

const ROOT = new URL('../..', import.meta.url).pathname;
const LOGROTATE = `${ROOT}config/logrotate/member-exit-audit`;
const RELOAD = 'pid=$(systemctl show --property=MainPID --value member-exit-audit.service 2>/dev/null) && [ "${pid:-0}" -gt 0 ] && kill -HUP "$pid" || true';
/** The block each shipper config marks as the part an operator replaces with their own output. */
const OUTPUT = /# BEGIN output[^\n]*\n[\s\S]*?# END output/;

/**
 * A shipper's config (a file under config/shippers/) with its output block replaced by `output`;
 * asserts that the block is there, so a config that loses its markers fails the test that runs it.
 */
export function shipperConfig(t: Tap.Test, name: string, output: string): string {
  const text = readFileSync(`${ROOT}config/shippers/${name}`, 'utf8');
  t.match(text, OUTPUT, `${name} marks its output block`);
  return text.replace(OUTPUT, output);
}

/**
 * The shipped logrotate config for `file`, written to `path`: run as whoever runs the test (its
 * `su` line names the given owner, or is dropped), and the postrotate signal replaced by
 * `postrotate`, or removed when it is null. Asserts the shipped config still signals the service.
 */
export function logrotateConfig(t: Tap.Test, path: string, file: string, postrotate: string | null, owner = ''): void {
  // The whole list of patterns (the single trail and the instances') becomes the test's one file.
  let conf = readFileSync(LOGROTATE, 'utf8').replace(/^\/var\/log\/member-exit-audit\/member-exit\.ndjson[^{\n]*\{$/m, `${file} {`);
  t.ok(conf.includes(`${file} {`), 'the shipped logrotate config names the trail');
  t.match(conf, /^\s*su member-exit-audit member-exit-audit-readers$/m, 'the shipped logrotate config rotates as the service user');
  conf = conf.replace(/^(\s*)su member-exit-audit member-exit-audit-readers$/m, owner ? `$1su ${owner}` : '');
  t.ok(conf.includes(RELOAD), 'the shipped logrotate config signals the service in postrotate');
  conf = postrotate === null ? conf.replace(/\s*postrotate[\s\S]*?endscript/, '') : conf.replace(RELOAD, postrotate);
  writeFileSync(path, conf, { mode: 0o644 });
}

/**
 * The verdict on a shipper run: every line on disk (current, rotated, gzipped) shipped exactly
 * once, byte for byte, except the tail of `member-exit.ndjson.1`, the file rotated while the
 * shipper was down; and the documented catch-up (all of .1 through query, deduplicated on id)
 * restores exactly the lines on disk. Returns the figures for the run's comment line.
 */
export function judgeShipping(t: Tap.Test, logs: string, shipped: string[], caughtUp: string[]): { disk: number; shipped: number; left: number; duplicated: number } {
  const onDisk = new Map<string, string>();
  for (const f of readdirSync(logs).filter((n) => n.startsWith('member-exit.ndjson'))) {
    const raw = readFileSync(`${logs}/${f}`);
    for (const line of (f.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8').split('\n').slice(0, -1)) onDisk.set(line, f);
  }
  const counts = new Map<string, number>();
  for (const l of shipped) counts.set(l, (counts.get(l) ?? 0) + 1);
  const duplicated = [...counts].filter(([, n]) => n > 1).length;
  t.equal(duplicated, 0, `${shipped.length} lines shipped, none twice`);
  t.equal(shipped.filter((l) => !onDisk.has(l)).length, 0, 'every shipped line is byte for byte a line on disk');
  const missing = [...onDisk].filter(([l]) => !counts.has(l));
  t.same([...new Set(missing.map(([, f]) => f))].filter((f) => f !== 'member-exit.ndjson.1'), [], `the ${missing.length} lines not shipped are all in member-exit.ndjson.1`);
  const dotOne = readFileSync(`${logs}/member-exit.ndjson.1`, 'utf8').split('\n').slice(0, -1);
  const first = dotOne.findIndex((l) => !counts.has(l));
  t.ok(first === -1 || dotOne.slice(first).every((l) => !counts.has(l)), 'they are its tail: everything before was shipped');
  const byId = new Map<string, string>();
  for (const l of [...shipped, ...caughtUp]) {
    const v = JSON.parse(l) as { id: string; member: string };
    byId.set(`${v.id}|${v.member}`, l);
  }
  t.same(new Set(byId.values()), new Set(onDisk.keys()), `shipped + caught up, deduplicated on id: exactly the ${onDisk.size} lines on disk`);
  return { disk: onDisk.size, shipped: shipped.length, left: missing.length, duplicated };
}

/** A run's folders, removed at teardown: `log/` for the trail, `work/` for the shipper's state. */
export function shipperDirs(t: Tap.Test, name: string): { dir: string; logs: string; work: string; file: string; out: string } {
  const dir = mkdtempSync(join(tmpdir(), `mea-${name}-`));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const logs = join(dir, 'log');
  const work = join(dir, 'work');
  mkdirSync(logs);
  mkdirSync(work);
  return { dir, logs, work, file: join(logs, 'member-exit.ndjson'), out: join(dir, 'shipped.ndjson') };
}

/** The lines a shipper wrote to `out`, once their count has not moved for 3 s (or after 30 s). */
export async function shippedWhenSettled(out: string): Promise<string[]> {
  let shipped: string[] = [];
  for (let waited = 0, last = -1, same = 0; waited < 30000 && same < 6; waited += 500) {
    await new Promise((r) => setTimeout(r, 500));
    shipped = existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter(Boolean) : [];
    same = shipped.length === last ? same + 1 : 0;
    last = shipped.length;
  }
  return shipped;
}

/**
 * config/shippers/rsyslog-pgsql.conf pointed at a test: the trail folder `logs`, rsyslog's work
 * folder, the store's libpq URI and this machine's psql. Asserts the connection block is there,
 * so a config that loses its markers fails the test that runs it.
 */
export function storeShipperConfig(t: Tap.Test, opts: { logs: string; work: string; uri: string; psql: string }): string {
  const text = readFileSync(`${ROOT}config/shippers/rsyslog-pgsql.conf`, 'utf8');
  const connection = /# BEGIN connection[^\n]*\n\s*binary="\/usr\/bin\/psql [^"]* -d postgresql:\/\/[^"\s]+"\n\s*# END connection/;
  t.match(text, connection, 'rsyslog-pgsql.conf marks its connection');
  return (
    `global(workDirectory="${opts.work}")\n` +
    text
      .replace(/(binary=")\/usr\/bin\/psql( [^"]* -d )postgresql:\/\/[^"\s?]+/, `$1${opts.psql}$2${opts.uri}`)
      .replaceAll('/var/log/rsyslog-member-exit-audit-psql.log', `${opts.work}/psql.log`)
      .replaceAll('/var/log/member-exit-audit', opts.logs)
  );
}
