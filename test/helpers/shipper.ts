/** What the shipper and rotation tests share: the shipped configs pointed at a test folder. */
import { readFileSync, writeFileSync } from 'node:fs';

const ROOT = new URL('../..', import.meta.url).pathname;
const LOGROTATE = `${ROOT}config/logrotate/member-exit-audit`;
const RELOAD = 'systemctl reload member-exit-audit.service >/dev/null 2>&1 || true';
/** The block each shipper config marks as the part an operator replaces with their own output. */
const OUTPUT = /# BEGIN output[^\n]*\n[\s\S]*?# END output/;

/**
 * A shipper's config (a file under config/shippers/) with its output block replaced by `output`;
 * asserts that the block is there, so a config that loses its markers fails the test that runs it.
 */
export function shipperConfig(t: Tap.Test, name: string, output: string): string {
  const text = readFileSync(`${ROOT}config/shippers/${name}`, 'utf8');
  t.match(text, OUTPUT, `${name} marks its output block`);
  return text.replace(OUTPUT, output);
}

/**
 * The shipped logrotate config for `file`, written to `path`: created files owned by whoever runs
 * the test (`create 0640`, or the given owner), and the postrotate reload replaced by `postrotate`,
 * or removed when it is null. Asserts the shipped config still reloads the service.
 */
export function logrotateConfig(t: Tap.Test, path: string, file: string, postrotate: string | null, owner = ''): void {
  let conf = readFileSync(LOGROTATE, 'utf8').replace('/var/log/member-exit-audit/member-exit.ndjson', file);
  conf = conf.replace(/create 0640 member-exit-audit member-exit-audit/, `create 0640${owner ? ` ${owner}` : ''}`);
  t.ok(conf.includes(RELOAD), 'the shipped logrotate config reloads the service in postrotate');
  conf = postrotate === null ? conf.replace(/\s*postrotate[\s\S]*?endscript/, '') : conf.replace(RELOAD, postrotate);
  writeFileSync(path, conf, { mode: 0o644 });
}
