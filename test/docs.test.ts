/**
 * The docs as a reader meets them: the README links every topic file in docs/, every relative
 * link in them points at a file that exists, and no topic is left without its file.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import t from 'tap';

const ROOT = new URL('..', import.meta.url).pathname;
const TOPICS = ['configuration', 'audit-line', 'errors', 'security', 'operations', 'shipping', 'investigating', 'performance', 'faults'];

t.test('the README maps every topic to one file in docs/, and stays a front door', async (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  for (const topic of TOPICS) t.match(readme, `](docs/${topic}.md)`, `README links docs/${topic}.md`);
  for (const file of readdirSync(join(ROOT, 'docs'))) t.match(readme, `](docs/${file})`, `README links docs/${file}`);
  t.match(readme, 'npm install && npm start');
  t.match(readme, 'npm test');
  t.ok(readme.length < 8000, `README is ${readme.length} bytes: a page or two`);
});

t.test('every relative link in the README and docs/ resolves', async (t) => {
  const files = ['README.md', ...readdirSync(join(ROOT, 'docs')).map((f) => `docs/${f}`)];
  for (const file of files) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue;
      t.ok(existsSync(join(ROOT, dirname(file), target!)), `${file} -> ${target}`);
    }
  }
});
