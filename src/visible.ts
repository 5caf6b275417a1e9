/**
 * Text that reaches a person's terminal or spreadsheet (query's table and CSV, log lines, FAIL
 * replies) shows every control character (C0, DEL, C1: ESC, CSI U+009B, OSC U+009D, NEL U+0085),
 * every bidi or invisible format character (U+202E, U+2066, U+200B, U+FEFF, ...), every other
 * default-ignorable code point (Unicode's Default_Ignorable_Code_Point: the soft hyphen U+00AD,
 * Hangul fillers U+115F, U+3164, U+FFA0, variation selectors U+FE00-U+FE0F, tags U+E0000-U+E0FFF,
 * ...: `jared` followed by one looked like `jared`, issue #23 item 6), the line and paragraph
 * separators and lone surrogates as a visible escape, `\u202e`, so a hostile account can neither
 * drive the terminal nor disguise itself. A backslash is doubled, so the escaped text still says
 * exactly what the value was. The sets are Unicode properties, so they follow Node's Unicode
 * version rather than a list kept by hand.
 */
const HIDDEN = /[\\\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Default_Ignorable_Code_Point}]/gu;

const escape = (c: string): string => {
  if (c === '\\') return '\\\\';
  const code = c.codePointAt(0)!;
  return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, '0')}`;
};

/** `s` with every hidden or controlling character escaped visibly (and `\` doubled). */
export function visible(s: string): string {
  HIDDEN.lastIndex = 0;
  return HIDDEN.test(s) ? s.replace(HIDDEN, escape) : s;
}
