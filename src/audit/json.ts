/** JSON string literals as the audit line writes them. Kept apart from line.ts so `query` loads no TypeBox. */

// U+2028/U+2029 are legal in JSON but some line splitters (JavaScript, Python's splitlines) break
// lines on them: escape them so that a line is a line for every reader.
const LINE_SEPARATORS = /[\u2028\u2029]/g;
const escapeSeparators = (c: string) => (c === '\u2028' ? '\\u2028' : '\\u2029');
/** A JSON string literal exactly as the audit line writes it (query builds its byte needles with it). */
export function str(s: string): string {
  const j = JSON.stringify(s);
  return j.includes('\u2028') || j.includes('\u2029') ? j.replace(LINE_SEPARATORS, escapeSeparators) : j;
}
