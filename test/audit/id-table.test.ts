// The resend window's table of ids (src/audit/id-table.ts): 128-bit keys in typed arrays, linear
// probing, deletion by shifting runs back. A model-based property test holds it to a Map.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import t from 'tap';
import { IdTable } from '../../src/audit/id-table.js';

/** An id as line.ts makes one: 32 lowercase hex characters of a SHA-256 digest. */
const idOf = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 32);

t.test('set, get, has, delete', async (t) => {
  const table = new IdTable();
  const [a, b] = [idOf('a'), idOf('b')];
  t.equal(table.get(a), undefined);
  table.set(a, 7);
  table.set(b);
  t.equal(table.get(a), 7);
  t.equal(table.get(b), 0, 'a set without a value holds 0');
  t.ok(table.has(a) && table.has(b));
  table.set(a, 8);
  t.equal(table.get(a), 8, 'set again: the value is replaced');
  t.equal(table.size, 2);
  t.ok(table.delete(a));
  t.notOk(table.delete(a), 'not twice');
  t.notOk(table.has(a));
  t.ok(table.has(b));
  t.equal(table.size, 1);
});

t.test('an id that is not 32 lowercase hex characters is never held, so never found', async (t) => {
  const table = new IdTable();
  for (const id of ['', 'abc', idOf('x').toUpperCase(), `${idOf('x').slice(0, 31)}g`, `${idOf('x')}0`, `${idOf('x').slice(0, 31)}\u00e9`]) {
    table.set(id, 1);
    t.equal(table.get(id), undefined, JSON.stringify(id));
    t.notOk(table.delete(id));
  }
  t.equal(table.size, 0);
});

t.test('grows past its first slots and keeps every id', async (t) => {
  const table = new IdTable();
  const ids = Array.from({ length: 5000 }, (_, i) => idOf(`grow${i}`));
  ids.forEach((id, i) => table.set(id, i));
  t.equal(table.size, 5000);
  t.ok(ids.every((id, i) => table.get(id) === i), 'every id with its value');
  t.notOk(table.has(idOf('absent')));
});

t.test('emptied after growing, it goes back to its smallest size and works on', async (t) => {
  const table = new IdTable();
  const slots = () => (table as unknown as { values: Int32Array }).values.length;
  const ids = Array.from({ length: 5000 }, (_, i) => idOf(`burst${i}`));
  ids.forEach((id) => table.set(id));
  t.equal(slots(), 16384, 'grown: 5,000 ids at most half full');
  ids.slice(1).forEach((id) => table.delete(id));
  t.equal(slots(), 16384, 'one id left: the table keeps its size');
  t.ok(table.has(ids[0]!));
  t.ok(table.delete(ids[0]!));
  t.equal(slots(), 1024, 'empty: back to 1,024 slots');
  t.equal(table.size, 0);
  table.set(ids[1]!, 3);
  t.equal(table.get(ids[1]!), 3);
  t.notOk(table.has(ids[0]!));
});

t.test('property: the same answers as a Map through any mix of sets and deletes, with colliding homes', async (t) => {
  // Ids whose first eight digits (the hash) share few values: long runs, wrapping at the end of
  // the table, and deletions from their middle.
  const id = (k: number) => ((k % 5) * 0x3ff).toString(16).padStart(8, '0') + idOf(`p${k}`).slice(8);
  const op = fc.record({ del: fc.boolean(), k: fc.integer({ min: 0, max: 3000 }), v: fc.integer({ min: 0, max: 1e6 }) });
  fc.assert(
    fc.property(fc.array(op, { maxLength: 3000 }), (ops) => {
      const table = new IdTable();
      const model = new Map<string, number>();
      for (const { del, k, v } of ops) {
        if (del) {
          if (table.delete(id(k)) !== model.delete(id(k))) return false;
        } else {
          table.set(id(k), v);
          model.set(id(k), v);
        }
      }
      if (table.size !== model.size) return false;
      for (let k = 0; k <= 3000; k++) if (table.get(id(k)) !== model.get(id(k))) return false;
      return true;
    }),
    { numRuns: 60 },
  );
  t.pass('60 runs agreed with the Map');
});
