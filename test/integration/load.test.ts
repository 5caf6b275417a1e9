import { existsSync, readdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import t from 'tap';
import { parseLines, readLines } from '../helpers/lines.js';
import { sendMany } from '../helpers/load.js';
import { exitBody, post, startTest } from '../helpers/service.js';

t.test('2,000 callbacks over 50 connections: one valid line per member, none torn', async (t) => {
  const svc = await startTest(t);
  const sent = await sendMany(svc.port, { total: 2000, connections: 50 });
  t.equal(sent.errors.length, 0);
  t.equal(sent.refused.length, 0);
  t.equal(sent.acked.length, 2000);
  const lines = readLines(svc.file);
  const expected = sent.acked.flat().sort();
  t.equal(lines.length, expected.length, `${expected.length} lines`);
  t.same(lines.map((l) => l.member).sort(), expected, 'exactly the acknowledged members, once each');
});

t.test('a reply is never sent before its lines are in the file', async (t) => {
  for (const durability of ['fsync', 'write']) {
    const svc = await startTest(t, { audit: { durability } });
    const sizeAtReply = new Map<string, number>();
    const sent = await sendMany(svc.port, {
      total: 500,
      connections: 20,
      onReply: (members, reply) => {
        if (reply.status === 200) for (const m of members) sizeAtReply.set(m, statSync(svc.file).size);
      },
    });
    const text = readFileSync(svc.file, 'utf8');
    let offset = 0;
    let late = 0;
    for (const line of text.split('\n').slice(0, -1)) {
      offset += Buffer.byteLength(line) + 1;
      const m = (JSON.parse(line) as { member: string }).member;
      if ((sizeAtReply.get(m) ?? -1) < offset) late++;
    }
    t.equal(sent.acked.length, 500, `${durability}: all callbacks acknowledged`);
    t.equal(sizeAtReply.size, sent.acked.flat().length, `${durability}: every member seen`);
    t.equal(late, 0, `${durability}: every line ended in the file before its reply arrived`);
    await svc.stop();
  }
});

t.test('renaming the file under load loses, duplicates and splits nothing', async (t) => {
  const svc = await startTest(t, { audit: { rotateCheckMs: 100 } });
  const dir = dirname(svc.file);
  // Rename after every 400th acknowledged callback, from inside the load, while the path exists
  // (the writer may not have noticed the last rename yet: then the next reply tries again).
  let replies = 0;
  let renames = 0;
  let nextAt = 400;
  const sent = await sendMany(svc.port, {
    total: 4000,
    connections: 50,
    onReply: () => {
      if (++replies < nextAt || replies > 3000 || !existsSync(svc.file)) return;
      renameSync(svc.file, `${svc.file}.${++renames}`);
      nextAt = replies + 400;
    },
  });
  await svc.stop();
  // The first rename is certain (the file exists at the 400th reply); how many more the writer's
  // 100 ms check allowed is the scheduler's business, not the product's promise.
  t.ok(renames >= 1, `renamed ${renames} times while callbacks were arriving`);
  const files = readdirSync(dir).map((f) => join(dir, f));
  const lines = files.flatMap((f) => parseLines(readFileSync(f, 'utf8'), f));
  t.equal(sent.refused.length + sent.errors.length, 0);
  t.same(lines.map((l) => l.member).sort(), sent.acked.flat().sort(), 'every acknowledged member exactly once across the files');
});

// Issue #12: a callback with more than 1 MiB of lines goes out in slices that small ones pass
// between; a rename between two of its slices must still lose, double and tear nothing.
t.test('10,000-member callbacks among small ones, under renames: each member once, small ones answered meanwhile', async (t) => {
  const svc = await startTest(t, { audit: { rotateCheckMs: 100 } });
  const dir = dirname(svc.file);
  let renames = 0;
  let replies = 0;
  let nextAt = 300;
  const large: { members: string[]; status: number; start: number; end: number }[] = [];
  const smallReplies: number[] = [];
  let smallDone = false;
  const sending = (async () => {
    // Until the small load ends: each a 10,000-member exit list, ~3.7 MB of lines (four slices).
    for (let i = 0; !smallDone || i === 0; i++) {
      const members = Array.from({ length: 10000 }, (_, k) => `large-${i}-member-${String(k).padStart(5, '0')}`);
      const start = performance.now();
      const reply = await post(svc.port, exitBody({ GroupId: `@TGS#large${i}`, ExitMemberList: members.map((m) => ({ Member_Account: m })) }));
      large.push({ members, status: reply.status, start, end: performance.now() });
    }
  })();
  const sent = await sendMany(svc.port, {
    total: 3000,
    connections: 20,
    onReply: () => {
      smallReplies.push(performance.now());
      if (++replies < nextAt || !existsSync(svc.file)) return;
      renameSync(svc.file, `${svc.file}.${++renames}`);
      nextAt = replies + 300;
    },
  });
  smallDone = true;
  await sending;
  await svc.stop();
  t.ok(renames >= 1, `renamed ${renames} times`);
  t.ok(large.length >= 1 && large.every((l) => l.status === 200), `${large.length} large callbacks, all acknowledged`);
  const during = large.reduce((n, l) => n + smallReplies.filter((r) => r > l.start && r < l.end).length, 0);
  t.ok(during > 0, `${during} small callbacks answered while a large one was on its way`);
  // parseLines fails on a torn or invalid line.
  const lines = readdirSync(dir).flatMap((f) => parseLines(readFileSync(join(dir, f), 'utf8'), f));
  const acked = [...sent.acked.flat(), ...large.flatMap((l) => l.members)];
  t.equal(sent.refused.length + sent.errors.length, 0);
  t.equal(lines.length, acked.length, `${lines.length} lines for ${acked.length} acknowledged members`);
  t.same(lines.map((l) => l.member).sort(), acked.sort(), 'every acknowledged member exactly once across the files');
});
