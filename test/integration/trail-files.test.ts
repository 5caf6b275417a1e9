/**
 * query and verify read only regular files of the trail (issue #23 item 4). The service user can
 * plant anything in the trail's folder: a symlink to a file only root reads (root's query printed
 * its lines), a FIFO (query and verify hung forever), a directory (query failed, exit 2, before it
 * read the current file).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { GENESIS, lineHash } from '../../src/audit/chain.js';
import { cli } from '../helpers/cli.js';

const line = (member: string, prev?: string) =>
  `{"time":"2022-12-09T08:26:54.123Z","event":"group.member.exit","sdkAppId":"1400000000","groupId":"g","groupType":"Public","exitType":"Quit","operator":"${member}","member":"${member}","eventTime":null,"receivedAt":"2026-11-26T00:00:00.000Z","clientIp":null,"optPlatform":null,"id":"${'0'.repeat(32)}"${prev ? `,"prev":"${prev}"` : ''}}`;

/** A chained trail of two regular files (.1, current) among a symlink (.7), a FIFO (.5) and a directory (.3). */
function plantedTrail(t: Tap.Test) {
  const dir = t.testdir({ trail: {} });
  const file = join(dir, 'trail', 'member-exit.ndjson');
  const secret = join(dir, 'only-root-reads');
  writeFileSync(secret, line('secret', GENESIS) + '\n');
  chmodSync(secret, 0o600);
  const one = line('one', GENESIS);
  writeFileSync(`${file}.1`, one + '\n');
  writeFileSync(file, line('cur', lineHash(one)) + '\n');
  symlinkSync(secret, `${file}.7`);
  execFileSync('mkfifo', [`${file}.5`]);
  mkdirSync(`${file}.3`);
  return { file, env: { AUDIT_FILE: file } };
}

const skipped = (file: string, what: string, command = 'query') => `member-exit-audit ${command}: skipped ${file}: ${what} (only regular files of the trail are read)\n`;

t.test('the trail found by name: a symlink, a FIFO and a directory are passed over, each named once; the rest is read', { timeout: 60000 }, async (t) => {
  const { file, env } = plantedTrail(t);
  const q = await cli(['query'], { env });
  t.equal(q.code, 0);
  t.same(q.stdout.trimEnd().split('\n').map((l) => JSON.parse(l).member), ['one', 'cur'], 'the regular files, and nothing through the symlink');
  t.equal(q.stderr, skipped(`${file}.7`, 'a symbolic link') + skipped(`${file}.5`, 'a FIFO') + skipped(`${file}.3`, 'a directory'), 'oldest first, as the trail is read');
  const table = await cli(['query', '--format', 'table', '--member', 'cur'], { env });
  t.equal(table.code, 0);
  t.match(table.stdout, /Quit +cur +cur\n$/);

  const v = await cli(['verify', '--genesis'], { env });
  t.equal(v.code, 0, 'the chain of the regular files is intact');
  t.equal(v.stdout, `OK: 2 chained lines in 2 files, from the first line ever; last line hash ${lineHash(line('cur', lineHash(line('one', GENESIS))))}\n`);
  t.equal(v.stderr, skipped(`${file}.7`, 'a symbolic link', 'verify') + skipped(`${file}.5`, 'a FIFO', 'verify') + skipped(`${file}.3`, 'a directory', 'verify'));
});

t.test('FILEs named on the command line: regular files are read; anything else stops the command before a line is printed', { timeout: 60000 }, async (t) => {
  const { file } = plantedTrail(t);
  const given = await cli(['query', '--count', `${file}.1`, file]);
  t.same([given.code, given.stdout, given.stderr], [0, '2\n', ''], 'regular files: read as given');
  const cases: [string, string][] = [
    [`${file}.7`, `cannot read ${file}.7: a symbolic link (name the file it points to)`],
    [`${file}.5`, `cannot read ${file}.5: a FIFO (to stream it, give - and redirect: - < ${file}.5)`],
    [`${file}.3`, `cannot read ${file}.3: a directory`],
    [join(file, '..', 'absent'), `cannot read ${join(file, '..', 'absent')}: no such file`],
  ];
  for (const [path, message] of cases) {
    for (const command of ['query', 'verify']) {
      const r = await cli([command, `${file}.1`, path, file]);
      t.same([r.code, r.stdout, r.stderr], [2, '', `member-exit-audit ${command}: ${message}\n`], `${command}: ${message}`);
    }
  }
  // A shell glob over the folder takes in what was planted there: the command refuses it by name.
  const glob = await cli(['query', `${file}.7`, `${file}.5`, `${file}.3`, `${file}.1`, file]);
  t.same([glob.code, glob.stdout], [2, '']);
  // Streaming is stdin's job: `query - < FIFO` (the helper's stdin is a pipe).
  const piped = await cli(['query', '--count', '-'], { stdin: line('piped') + '\n' });
  t.same([piped.code, piped.stdout], [0, '1\n']);
  const verifyPiped = await cli(['verify', '-'], { stdin: line('piped', GENESIS) + '\n' });
  t.match(verifyPiped.stdout, /^OK: 1 chained lines in 1 file, from the first line ever/);
});
