/**
 * Command-line options of every command: Node's `parseArgs` (strict), with refusals a person can
 * act on. Node's own messages ("Unknown option '--memer'. To specify a positional argument starting
 * with a '-', place it at the end of the command after '--', ...") name neither the option meant
 * nor the fix (issue #22 item 6).
 */
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';

/** A command line that cannot be read: the command prints it and exits 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The options themselves were wrong: the command points at its --help. */
    readonly seeHelp = false,
  ) {
    super(message);
  }
}

/** The line after an option refused: where the options are listed. */
export const seeHelp = (command: string) => `(member-exit-audit ${command} --help lists the options)`;

/**
 * `argv` parsed against `options`; throws UsageError naming the offending argument, and for an
 * unknown option the closest known one: "unknown option --memer (did you mean --member?)".
 */
export function parseOptions<T extends ParseArgsOptionsConfig>(argv: string[], options: T, allowPositionals: boolean) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError(diagnose(argv, options, allowPositionals) ?? (err as Error).message, true);
  }
}

/** The first argument parseArgs refuses, said plainly; undefined if this walk finds none. */
function diagnose(argv: string[], options: ParseArgsOptionsConfig, allowPositionals: boolean): string | undefined {
  const shorts = new Map(Object.entries(options).flatMap(([name, o]) => (o.short ? [[o.short, name] as const] : [])));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return !allowPositionals && i < argv.length - 1 ? `unexpected argument ${argv[i + 1]} (this command takes no FILE)` : undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = arg.slice(2, eq === -1 ? undefined : eq);
      const spec = options[name];
      if (!spec) return `unknown option --${name}${suggest(name, Object.keys(options))}`;
      if (spec.type === 'boolean' && eq !== -1) return `option --${name} takes no value`;
      if (spec.type === 'string' && eq === -1) {
        const next = argv[i + 1];
        if (next === undefined) return `option --${name} needs a value`;
        // parseArgs takes `-42` for an option: a value starting with - is written --member=-42.
        if (next.length > 1 && next.startsWith('-')) return `option --${name} needs a value (a value starting with - is written --${name}=${next})`;
        i++;
      }
    } else if (arg.length > 1 && arg.startsWith('-')) {
      for (const c of arg.slice(1)) {
        const name = shorts.get(c);
        if (name === undefined) return `unknown option -${c}`;
        if (options[name]!.type === 'string') return undefined; // the rest of the word (or the next) is its value
      }
    } else if (!allowPositionals) return `unexpected argument ${arg} (this command takes no FILE)`;
  }
  return undefined;
}

/** ` (did you mean --x?)` for the one known name a typo most likely meant, or nothing. */
function suggest(name: string, known: string[]): string {
  const byPrefix = known.filter((k) => name.length >= 2 && k.startsWith(name));
  if (byPrefix.length === 1) return ` (did you mean --${byPrefix[0]}?)`;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = distance(name, k);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  // Two edits, and fewer than half the name: --memer and --recieved-since, not --bogus for --group.
  return best !== undefined && bestDistance <= 2 && bestDistance < name.length / 2 ? ` (did you mean --${best}?)` : '';
}

/** Edits (insert, delete, substitute, swap two neighbours) that turn `a` into `b`. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}
