// Query benchmark (issue: investigate the trail). Generates 1,000,000 audit lines across 10
// rotated files (.1-.5 plain, .6-.10 gzip), then times, on the same files:
//   jq:    zcat -f FILES | jq -c 'select(.member=="jared")'
//   zgrep: zgrep -F '"member":"jared"' FILES
//   ours:  member-exit-audit query --member jared FILES
// Each RUNS times (default 5); prints medians and the ratios jq/ours (target >= 5) and
// ours/zgrep (target <= 2), and writes bench/query-results.json. Needs jq, zcat, zgrep.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { formatLines } from '../dist/audit/line.js';

const LINES = Number(process.env.QUERY_LINES ?? 1_000_000);
const FILES = 10;
const RUNS = Number(process.env.RUNS ?? 5);
const CLI = new URL('../dist/cli.js', import.meta.url).pathname;

const dir = mkdtempSync(join(tmpdir(), 'mea-query-bench-'));
const current = join(dir, 'member-exit.ndjson');
let jared = 0;
let n = 0;
const perFile = LINES / FILES;
const files = [];
for (let f = FILES; f >= 1; f--) {
  const parts = [];
  for (let i = 0; i < perFile; i++, n++) {
    // One line in 1,000 is jared's: the needle is rare, as a real question's is.
    const member = n % 1000 === 7 ? 'jared' : `user${(n * 7919) % 50000}`;
    if (member === 'jared') jared++;
    parts.push(formatLines({ sdkAppId: '1400000000', groupId: `@TGS#${(n * 31) % 5000}`, groupType: 'Public', exitType: n % 3 ? 'Quit' : 'Kicked', operator: n % 3 ? member : 'admin', eventTime: 1700000000000 + n * 1000, receivedAt: 1700000000500 + n * 1000, clientIp: '10.0.0.1', optPlatform: 'Android' }, [member]).text);
  }
  const text = parts.join('');
  const name = `${current}.${f}${f > 5 ? '.gz' : ''}`;
  writeFileSync(name, f > 5 ? gzipSync(text) : text);
  files.push(name);
}
writeFileSync(current, '');
files.push(current);
const sizes = execFileSync('du', ['-sh', dir], { encoding: 'utf8' }).split('\t')[0];

const quote = (s) => `'${s.replace(/'/g, `'\\''`)}'`;
const list = files.map(quote).join(' ');
const commands = {
  jq: `zcat -f ${list} | jq -c 'select(.member=="jared")'`,
  zgrep: `zgrep -F -h '"member":"jared"' ${list}`,
  ours: `${quote(process.execPath)} ${quote(CLI)} query --member jared ${list}`,
};

function time(cmd) {
  const start = process.hrtime.bigint();
  const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const count = r.stdout.split('\n').filter(Boolean).length;
  return { ms, count, status: r.status };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = {};
for (const [name, cmd] of Object.entries(commands)) {
  const runs = [];
  for (let i = 0; i < RUNS; i++) {
    const r = time(cmd);
    if (r.count !== jared) throw new Error(`${name} found ${r.count} lines, expected ${jared} (status ${r.status})`);
    runs.push(r.ms);
  }
  results[name] = { medianMs: Math.round(median(runs)), runsMs: runs.map(Math.round) };
}
rmSync(dir, { recursive: true, force: true });

const out = {
  date: new Date().toISOString(),
  machine: `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`,
  lines: LINES,
  files: `${FILES} rotated (5 plain, 5 gzip), ${sizes}`,
  matches: jared,
  runs: RUNS,
  results,
  ratios: {
    jqOverOurs: +(results.jq.medianMs / results.ours.medianMs).toFixed(2),
    oursOverZgrep: +(results.ours.medianMs / results.zgrep.medianMs).toFixed(2),
  },
};
writeFileSync(new URL('./query-results.json', import.meta.url), JSON.stringify(out, null, 2) + '\n');
console.log(`query benchmark: ${LINES} lines, ${out.files}, ${jared} matches, median of ${RUNS} runs`);
for (const [name, r] of Object.entries(results)) console.log(`  ${name.padEnd(6)} ${String(r.medianMs).padStart(7)} ms   (${r.runsMs.join(', ')})`);
console.log(`  jq / ours    = ${out.ratios.jqOverOurs}  (target >= 5)`);
console.log(`  ours / zgrep = ${out.ratios.oursOverZgrep}  (target <= 2)`);
