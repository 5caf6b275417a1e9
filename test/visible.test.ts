/**
 * What reaches a person's screen (src/visible.ts): every control, format and default-ignorable
 * code point escaped (issue #23 item 6: `jared` and a Hangul filler looked like `jared`).
 */
import t from 'tap';
import { visible } from '../src/visible.js';

/** The escape visible() shows for the code point `cp`. */
const escaped = (cp: number) => (cp > 0xffff ? `\\u{${cp.toString(16)}}` : `\\u${cp.toString(16).padStart(4, '0')}`);

t.test('every Default_Ignorable_Code_Point, over the whole property, is shown as its escape', async (t) => {
  // The set is Unicode's, as Node knows it: the test follows it rather than a list kept by hand.
  const DI = /^\p{Default_Ignorable_Code_Point}$/u;
  let count = 0;
  const raw: string[] = [];
  for (let cp = 0; cp <= 0x10ffff; cp++) {
    const c = String.fromCodePoint(cp);
    if (!DI.test(c)) continue;
    count++;
    if (visible(`jared${c}`) !== `jared${escaped(cp)}`) raw.push(escaped(cp));
  }
  t.same(raw, [], 'none reaches the screen raw');
  t.ok(count > 4000, `the property holds ${count} code points (U+E0000-U+E0FFF alone are 4,096)`);
});

t.test('the code points the issue lists, each as its escape', async (t) => {
  const ranges: [number, number][] = [
    [0x00ad, 0x00ad], [0x034f, 0x034f], [0x061c, 0x061c], [0x115f, 0x1160], [0x17b4, 0x17b5], [0x180b, 0x180f],
    [0x200b, 0x200f], [0x202a, 0x202e], [0x2060, 0x206f], [0x3164, 0x3164], [0xfe00, 0xfe0f], [0xfeff, 0xfeff],
    [0xffa0, 0xffa0], [0xfff0, 0xfff8], [0x1bca0, 0x1bca3], [0x1d173, 0x1d17a], [0xe0000, 0xe0fff],
  ];
  for (const [from, to] of ranges) {
    for (let cp = from; cp <= to; cp++) {
      if (visible(String.fromCodePoint(cp)) !== escaped(cp)) t.fail(`U+${cp.toString(16)} not escaped`);
    }
  }
  t.equal(visible('jared\u3164'), 'jared\\u3164', 'a Hangul filler after a name');
  t.equal(visible('\u{e0001}x'), '\\u{e0001}x', 'a tag character');
});

t.test('what is visible stays as it is; a backslash is doubled', async (t) => {
  for (const s of ['jared', '@TGS#2J4SZEAEL', '张伟', 'Ωμέγα', 'شريف', '😀', 'a b', 'x-y_z.1']) t.equal(visible(s), s);
  t.equal(visible('a\\u3164'), 'a\\\\u3164', 'an escape typed by hand cannot pass for one');
  t.equal(visible('\u001b[31m\u0085\u2028\ud800'), '\\u001b[31m\\u0085\\u2028\\ud800');
});
