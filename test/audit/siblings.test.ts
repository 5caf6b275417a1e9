import { join } from 'node:path';
import t from 'tap';
import { trailFiles } from '../../src/audit/siblings.js';

t.test('current and rotated siblings, oldest first', async (t) => {
  const dir = t.testdir({
    'member-exit.ndjson': '',
    'member-exit.ndjson.1': '',
    'member-exit.ndjson.2.gz': '',
    'member-exit.ndjson.10.gz': '',
    'member-exit.ndjson-20261124.gz': '',
    'member-exit.ndjson-20261125': '',
    'member-exit.ndjson-20261126-1764115200': '',
    'member-exit.ndjson.bak': '',
    'member-exit.ndjsonx': '',
    'other.ndjson.1': '',
    'unparsable.log': '',
  });
  t.same(trailFiles(join(dir, 'member-exit.ndjson')).map((f) => f.slice(dir.length + 1)), [
    'member-exit.ndjson-20261124.gz',
    'member-exit.ndjson-20261125',
    'member-exit.ndjson-20261126-1764115200',
    'member-exit.ndjson.10.gz',
    'member-exit.ndjson.2.gz',
    'member-exit.ndjson.1',
    'member-exit.ndjson',
  ]);
});

t.test('missing folder or current file', async (t) => {
  t.same(trailFiles('/nonexistent/dir/member-exit.ndjson'), []);
  const dir = t.testdir({ 'a.ndjson.1': '' });
  t.same(trailFiles(join(dir, 'a.ndjson')), [join(dir, 'a.ndjson.1')], 'rotated files without a current one');
});

// Issue #12 (5): `-20261126` + 30 digits + `x` took 25 s (x4 per two more digits) with the old
// pattern. With a linear one, even 2,000 digits are nothing; the test's timeout catches a relapse.
t.test('a hostile sibling name is passed over in linear time', { timeout: 10000 }, async (t) => {
  const dir = t.testdir({
    'member-exit.ndjson': '',
    [`member-exit.ndjson-20261126${'0'.repeat(40)}x`]: '',
    [`member-exit.ndjson-20261126${'-0'.repeat(40)}x.gz`]: '',
    [`member-exit.ndjson-20261126${'1'.repeat(200)}`]: '',
  });
  t.same(trailFiles(join(dir, 'member-exit.ndjson')).map((f) => f.slice(dir.length + 1)), [
    `member-exit.ndjson-20261126${'1'.repeat(200)}`,
    'member-exit.ndjson',
  ]);
});
