/** The times --since and friends take (issue #22 item 6: `--since 7` was read as 2001-07-01). */
import t from 'tap';
import { parseTime } from '../../src/trail/time.js';

const now = Date.UTC(2026, 10, 26, 12, 0, 0);

t.test('relative: a number and a unit, before now', async (t) => {
  t.equal(parseTime('90s', now), '2026-11-26T11:58:30.000Z');
  t.equal(parseTime('30m', now), '2026-11-26T11:30:00.000Z');
  t.equal(parseTime('12h', now), '2026-11-26T00:00:00.000Z');
  t.equal(parseTime('7d', now), '2026-11-19T12:00:00.000Z');
  t.equal(parseTime('2w', now), '2026-11-12T12:00:00.000Z');
  t.throws(() => parseTime('99999999999d', now), /not a time: 99999999999d \(further back than a date can be\)/, 'no RangeError');
});

t.test('a bare number is refused, saying what is accepted', async (t) => {
  for (const bare of ['7', '2026', '1670574414123']) {
    t.throws(() => parseTime(bare, now), { message: new RegExp(`^not a time: ${bare} \\(a number needs a unit: ${bare}s, ${bare}m, ${bare}h, ${bare}d or ${bare}w before now; or give an ISO-8601 date or time like 2026-11-26`) }, bare);
  }
});

t.test('ISO-8601: dates, times, offsets; nothing Date.parse merely tolerates', async (t) => {
  t.equal(parseTime('2022-12-09'), '2022-12-09T00:00:00.000Z', 'a date alone is midnight UTC');
  t.equal(parseTime('2022-12-09T08:26:54Z'), '2022-12-09T08:26:54.000Z');
  t.equal(parseTime('2022-12-09T08:26:54.123Z'), '2022-12-09T08:26:54.123Z');
  t.equal(parseTime('2022-12-09T16:26:54+08:00'), '2022-12-09T08:26:54.000Z');
  t.equal(parseTime('2022-12-09T16:26+08:00'), '2022-12-09T08:26:00.000Z');
  t.equal(parseTime('2022-12-09 16:26:54+0800'), '2022-12-09T08:26:54.000Z');
  t.equal(parseTime('2024-02-29'), '2024-02-29T00:00:00.000Z', 'a leap day');
  for (const bad of ['yesterday', '7x', '', '-1d', 'd7', '2026-02-30', '2025-02-29', '2026-13-01', '2026-11-26T24:00:00Z', '2026-11-26T08:60Z', 'Dec 9 2022', '12/09/2022', '2022-12-09T08Z', '+002026-01-01']) {
    t.throws(() => parseTime(bad, now), { message: /^not a time: .*\(give an ISO-8601 date or time like 2026-11-26, 2026-11-26T08:00:00Z or 2026-11-26T16:00\+08:00, or a number with a unit before now: 90s, 30m, 12h, 7d, 2w\)$/ }, JSON.stringify(bad));
  }
});
