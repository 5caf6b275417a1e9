import fs from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { journalLine, SafeStdout, stdoutIsJournal } from '../src/log.js';

t.test('journal lines: the syslog priority of the pino level, the message, then the record unchanged', async (t) => {
  const rec = (level: number, msg: string) => `{"level":${level},"time":"2026-12-03T00:00:00.000Z","pid":1,"stage":"receiving","msg":${JSON.stringify(msg)}}\n`;
  t.equal(journalLine(rec(60, 'cannot start')), `<2>cannot start ${rec(60, 'cannot start')}`);
  t.equal(journalLine(rec(50, 'audit write failed')), `<3>audit write failed ${rec(50, 'audit write failed')}`);
  t.equal(journalLine(rec(40, 'request refused')), `<4>request refused ${rec(40, 'request refused')}`);
  t.equal(journalLine(rec(30, 'listening')), `<6>listening ${rec(30, 'listening')}`);
  t.equal(journalLine(rec(20, 'x')).slice(0, 3), '<7>');
  t.equal(journalLine(rec(40, 'a "quoted" \u2028 message')).split(' {')[0], '<4>a "quoted" \u2028 message', 'the message as text');
  t.equal(journalLine('not json\n'), '<6>not json\n', 'anything else: info, as it is');
});

t.test('stdoutIsJournal: only when fd 1 is the very stream JOURNAL_STREAM names', async (t) => {
  const file = join(t.testdir(), 'f');
  const fd = fs.openSync(file, 'w');
  t.teardown(() => fs.closeSync(fd));
  const { dev, ino } = fs.fstatSync(fd);
  t.ok(stdoutIsJournal({ JOURNAL_STREAM: `${dev}:${ino}` }, fd));
  t.notOk(stdoutIsJournal({ JOURNAL_STREAM: `${dev}:${ino + 1}` }, fd), 'another stream (stdout redirected by a child of the unit)');
  t.notOk(stdoutIsJournal({}, fd));
  t.notOk(stdoutIsJournal({ JOURNAL_STREAM: 'garbage' }, fd));
});

t.test('a destination that cannot be written gives up for good instead of retrying', async (t) => {
  const [r, w] = [fs.openSync('/dev/null', 'r'), fs.openSync('/dev/null', 'r')];
  fs.closeSync(w);
  const out = new SafeStdout(w); // a closed fd: EBADF, like EPIPE a stream that is gone
  t.equal(out.write('a\n'), true, 'the logger is never told to wait');
  t.equal(out.broken, 'EBADF');
  t.equal(out.write('b\n'), true);
  fs.closeSync(r);
  const file = join(t.testdir(), 'g');
  const fd = fs.openSync(file, 'w');
  const ok = new SafeStdout(fd, (l) => `>${l}`);
  ok.write('x\n');
  fs.closeSync(fd);
  t.equal(fs.readFileSync(file, 'utf8'), '>x\n', 'a working one writes, transformed');
});
