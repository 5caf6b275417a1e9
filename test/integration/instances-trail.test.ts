/**
 * Several instances on one VM (docs/scaling.md) keep a trail each, in a folder beside the audit
 * file: with no FILE, `query` reads every trail and `verify` checks each one's chain on its own.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { chainLines, GENESIS } from '../../src/audit/chain.js';
import { formatLines, type ExitEvent } from '../../src/audit/line.js';
import { cli } from '../helpers/cli.js';

const event: ExitEvent = { sdkAppId: '1400000000', groupId: '@TGS#g', groupType: 'Public', exitType: 'Quit', operator: 'o', eventTime: 1700000000000, receivedAt: 1700000000100, clientIp: null, optPlatform: null };
const chained = (members: string[]) => chainLines(formatLines(event, members).text, GENESIS).text;

t.test('query and verify find every instance\'s trail; verify checks each chain on its own and names a broken one', async (t) => {
  const dir = t.testdir();
  const main = join(dir, 'member-exit.ndjson');
  writeFileSync(main, chained(['single-a', 'single-b']));
  for (const [port, members] of [['9465', ['i1-a']], ['9466', ['i2-a', 'i2-b']]] as const) {
    mkdirSync(join(dir, port));
    writeFileSync(join(dir, port, 'member-exit.ndjson'), chained([...members]));
  }
  // A folder planted as a symlink is not an instance's trail.
  const elsewhere = mkdtempSync(join(tmpdir(), 'mea-planted-'));
  t.teardown(() => rmSync(elsewhere, { recursive: true, force: true }));
  writeFileSync(join(elsewhere, 'member-exit.ndjson'), chained(['planted']));
  symlinkSync(elsewhere, join(dir, '9999'));
  const env = { AUDIT_FILE: main };

  const q = await cli(['query', '--format', 'csv'], { env });
  t.equal(q.code, 0);
  t.same(q.stdout.split('\n').slice(1, -1).map((l) => l.split(',')[7]), ['single-a', 'single-b', 'i1-a', 'i2-a', 'i2-b'], 'every trail, the audit file\'s first; not the planted one');

  const v = await cli(['verify'], { env });
  t.equal(v.code, 0, v.stdout + v.stderr);
  const out = v.stdout.trim().split('\n');
  t.equal(out.length, 3, 'one result a trail');
  t.match(out[0], `${main}: OK: 2 chained lines in 1 file, from the first line ever`);
  t.match(out[1], `${join(dir, '9465', 'member-exit.ndjson')}: OK: 1 chained lines`);
  t.match(out[2], `${join(dir, '9466', 'member-exit.ndjson')}: OK: 2 chained lines`);

  // One instance's trail altered: that one is named, the others still OK, exit 1.
  const lines = chained(['i2-a', 'i2-b']).split('\n');
  writeFileSync(join(dir, '9466', 'member-exit.ndjson'), [lines[0]!.replace('i2-a', 'i2-x'), ...lines.slice(1)].join('\n'));
  const broken = await cli(['verify'], { env });
  t.equal(broken.code, 1);
  t.match(broken.stdout, new RegExp(`${join(dir, '9466', 'member-exit.ndjson')}: BROKEN at `));
  t.match(broken.stdout, `${main}: OK`);
});
