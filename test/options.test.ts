/** Command-line options (issue #22 item 6): every refusal names the argument and what to do. */
import t from 'tap';
import { parseOptions, UsageError } from '../src/options.js';

const OPTIONS = {
  member: { type: 'string' },
  'received-since': { type: 'string' },
  genesis: { type: 'boolean' },
  count: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const refusal = (argv: string[], positionals = true) => {
  try {
    parseOptions(argv, OPTIONS, positionals);
  } catch (err) {
    if (err instanceof UsageError) return err.message;
    throw err;
  }
  return 'accepted';
};

t.test('an unknown option is named with the closest known one, when one is close', async (t) => {
  t.equal(refusal(['--memer', 'jared']), 'unknown option --memer (did you mean --member?)');
  t.equal(refusal(['--memer=jared']), 'unknown option --memer (did you mean --member?)');
  t.equal(refusal(['--recieved-since', '1h']), 'unknown option --recieved-since (did you mean --received-since?)', 'two letters swapped');
  t.equal(refusal(['--gen']), 'unknown option --gen (did you mean --genesis?)', 'the start of one option');
  t.equal(refusal(['--bogus']), 'unknown option --bogus', 'nothing close: no guess');
  t.equal(refusal(['-x']), 'unknown option -x');
  t.equal(refusal(['-hx']), 'unknown option -x', 'in a group of short options');
});

t.test('values: missing, ambiguous, or given to a flag', async (t) => {
  t.equal(refusal(['--member']), 'option --member needs a value');
  t.equal(refusal(['--member', '-42']), 'option --member needs a value (a value starting with - is written --member=-42)');
  t.equal(refusal(['--count=3']), 'option --count takes no value');
  t.equal(refusal(['extra'], false), 'unexpected argument extra (this command takes no FILE)');
  t.equal(refusal(['--', 'extra'], false), 'unexpected argument extra (this command takes no FILE)');
});

t.test('what parses, parses as Node parseArgs does', async (t) => {
  t.same(parseOptions(['--member=-42', '--count', 'f', '-', '--', '--x'], OPTIONS, true), { values: { member: '-42', count: true }, positionals: ['f', '-', '--x'] });
  t.same(parseOptions(['-h'], OPTIONS, false).values, { help: true });
  t.ok(new UsageError('x', true).seeHelp, 'an option refused points at --help');
});
