// Query benchmark (issues #12, #22 item 8). Generates 1,000,000 audit lines across 10 rotated
// files (.1-.5 plain, .6-.10 gzip), then times, on the same files:
//   jq:    zcat -f FILES | jq -c 'select(.member=="jared")'
//   zgrep: zgrep -F '"member":"jared"' FILES
//   ours:  member-exit-audit query --member jared FILES
// and one row per other filter (--since, --until, --received-since, --received-until,
// --exit-type, --group, --app, --operator, --id), each asking for about as rare a set of lines as
// jared's (one in 1,000), plus --exit-type Kicked --count (a third of the lines). Each RUNS times
// (default 5); prints medians and the ratios jq/ours (target >= 5) and ours/zgrep (target <= 2),
// and writes bench/query-results.json. ROWS=since,group runs only those filter rows.
// COMPARE_CLI=path/to/other/dist/cli.js times that build too, on every row of ours ('before ...'),
// in the same sitting. Runs go round-robin over the commands, so that a shared machine's load
// falls on every row alike. Needs jq, zcat, zgrep.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { formatLines } from '../dist/audit/line.js';

const LINES = Number(process.env.QUERY_LINES ?? 1_000_000);
const FILES = 10;
const RUNS = Number(process.env.RUNS ?? 5);
const ONLY = process.env.ROWS?.split(',');
const CLI = new URL('../dist/cli.js', import.meta.url).pathname;
const T0 = 1700000000000;
const iso = (n) => new Date(T0 + n * 1000).toISOString();

const dir = mkdtempSync(join(tmpdir(), 'mea-query-bench-'));
const current = join(dir, 'member-exit.ndjson');
/** The filter rows: argv, and how many lines each must find (counted while generating). */
const rows = {
  member: { args: ['--member', 'jared'], want: 0 },
  since: { args: ['--since', iso(LINES - 1000)], want: 0 },
  until: { args: ['--until', iso(1000)], want: 0 },
  'received-since': { args: ['--received-since', new Date(T0 + 500 + (LINES - 1000) * 1000).toISOString()], want: 0 },
  'received-until': { args: ['--received-until', new Date(T0 + 500 + 1000 * 1000).toISOString()], want: 0 },
  'exit-type': { args: ['--exit-type', 'Destroyed'], want: 0 },
  'exit-type-common': { args: ['--exit-type', 'Kicked', '--count'], want: 0 },
  group: { args: ['--group', '@TGS#42'], want: 0 },
  app: { args: ['--app', '1400000009'], want: 0 },
  operator: { args: ['--operator', 'leckie'], want: 0 },
  id: { args: ['--id', ''], want: 1 },
};
let n = 0;
const perFile = LINES / FILES;
const files = [];
for (let f = FILES; f >= 1; f--) {
  const parts = [];
  for (let i = 0; i < perFile; i++, n++) {
    // One line in 1,000 is jared's, one a dismissal, one of another app, one kicked by leckie:
    // each filter's lines are rare, as a real question's are.
    const member = n % 1000 === 7 ? 'jared' : `user${(n * 7919) % 50000}`;
    const exitType = n % 1000 === 500 ? 'Destroyed' : n % 1000 === 600 || n % 3 === 0 ? 'Kicked' : 'Quit';
    const operator = exitType === 'Destroyed' ? null : n % 1000 === 600 ? 'leckie' : exitType === 'Kicked' ? 'admin' : member;
    const sdkAppId = n % 1000 === 300 ? '1400000009' : '1400000000';
    const groupId = `@TGS#${(n * 31) % 5000}`;
    const text = formatLines({ sdkAppId, groupId, groupType: 'Public', exitType, operator, eventTime: T0 + n * 1000, receivedAt: T0 + 500 + n * 1000, clientIp: '10.0.0.1', optPlatform: 'Android' }, [member]).text;
    parts.push(text);
    rows.member.want += member === 'jared' ? 1 : 0;
    rows.since.want += n >= LINES - 1000 ? 1 : 0;
    rows.until.want += n < 1000 ? 1 : 0;
    rows['received-since'].want += n >= LINES - 1000 ? 1 : 0;
    rows['received-until'].want += n < 1000 ? 1 : 0;
    rows['exit-type'].want += exitType === 'Destroyed' ? 1 : 0;
    rows['exit-type-common'].want += exitType === 'Kicked' ? 1 : 0;
    rows.group.want += groupId === '@TGS#42' ? 1 : 0;
    rows.app.want += sdkAppId === '1400000009' ? 1 : 0;
    rows.operator.want += operator === 'leckie' ? 1 : 0;
    if (n === LINES / 2) rows.id.args[1] = JSON.parse(text).id;
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
const ours = (args, cli = CLI) => `${quote(process.execPath)} ${quote(cli)} query ${args.map(quote).join(' ')} ${list}`;
const commands = {
  jq: { cmd: `zcat -f ${list} | jq -c 'select(.member=="jared")'`, want: rows.member.want },
  zgrep: { cmd: `zgrep -F -h '"member":"jared"' ${list}`, want: rows.member.want },
};
for (const [name, row] of Object.entries(rows)) {
  if (name !== 'member' && ONLY && !ONLY.includes(name)) continue;
  const label = name === 'member' ? 'ours' : `ours ${row.args.join(' ')}`;
  commands[label] = { cmd: ours(row.args), want: row.want };
  if (process.env.COMPARE_CLI) commands[label.replace('ours', 'before')] = { cmd: ours(row.args, process.env.COMPARE_CLI), want: row.want };
}

function time(cmd) {
  const start = process.hrtime.bigint();
  const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  // `--count` prints the number; otherwise one line per match.
  const count = cmd.includes("'--count'") ? Number(r.stdout) : r.stdout.split('\n').filter(Boolean).length;
  return { ms, count, status: r.status };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const runs = Object.fromEntries(Object.keys(commands).map((name) => [name, []]));
for (let i = 0; i < RUNS; i++) {
  for (const [name, { cmd, want }] of Object.entries(commands)) {
    const r = time(cmd);
    if (r.count !== want) throw new Error(`${name} found ${r.count} lines, expected ${want} (status ${r.status})`);
    runs[name].push(r.ms);
  }
}
const results = Object.fromEntries(Object.entries(runs).map(([name, ms]) => [name, { medianMs: Math.round(median(ms)), runsMs: ms.map(Math.round), matches: commands[name].want }]));
rmSync(dir, { recursive: true, force: true });

const out = {
  date: new Date().toISOString(),
  machine: `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`,
  lines: LINES,
  files: `${FILES} rotated (5 plain, 5 gzip), ${sizes}`,
  matches: rows.member.want,
  runs: RUNS,
  results,
  ratios: {
    jqOverOurs: +(results.jq.medianMs / results.ours.medianMs).toFixed(2),
    oursOverZgrep: +(results.ours.medianMs / results.zgrep.medianMs).toFixed(2),
  },
};
writeFileSync(new URL('./query-results.json', import.meta.url), JSON.stringify(out, null, 2) + '\n');
console.log(`query benchmark: ${LINES} lines, ${out.files}, ${rows.member.want} of jared's, median of ${RUNS} runs`);
for (const [name, r] of Object.entries(results)) console.log(`  ${name.padEnd(48)} ${String(r.medianMs).padStart(7)} ms  ${String(r.matches).padStart(7)} lines  (${r.runsMs.join(', ')})`);
console.log(`  jq / ours    = ${out.ratios.jqOverOurs}  (target >= 5)`);
console.log(`  ours / zgrep = ${out.ratios.oursOverZgrep}  (target <= 2)`);
