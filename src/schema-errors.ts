/** Turn TypeBox's `Errors()` into short "where: what" phrases for replies and start-up messages. */

export interface SchemaError {
  instancePath: string;
  schemaPath?: string;
  message: string;
  params: unknown;
}

interface Problem {
  msgs: string[];
  /** The values a union of literals allows, folded into one "must be one of ..." phrase. */
  allowed: unknown[];
}

/**
 * One phrase per problem, without duplicates, sorted by where they are (so the same config always
 * gives the same message). A union of literals becomes "must be one of a, b"; other union branches
 * are folded into "must be integer or must be string"; `required` and `additionalProperties` name
 * the key. `max` stops reading errors early: a hostile body can hold thousands.
 */
export function describeErrors(errors: Iterable<SchemaError>, max = Infinity, schema?: unknown): string[] {
  const byPath = new Map<string, Problem>();
  const at = (path: string) => {
    let p = byPath.get(path);
    if (!p) byPath.set(path, (p = { msgs: [], allowed: [] }));
    return p;
  };
  const add = (path: string, msg: string) => {
    const p = at(path);
    if (!p.msgs.includes(msg)) p.msgs.push(msg);
  };
  for (const e of errors) {
    const p = e.params as { requiredProperties?: string[]; additionalProperties?: string[]; allowedValue?: unknown };
    if (p.requiredProperties) for (const k of p.requiredProperties) add(`${e.instancePath}/${k}`, 'is required');
    else if (p.additionalProperties) for (const k of p.additionalProperties) add(`${e.instancePath}/${k}`, 'unknown key');
    else if (e.message === 'schema is false' || e.message.startsWith('must match a schema in anyOf')) continue;
    else if ('allowedValue' in p) {
      // TypeBox may stop before it has reported every branch of a union: list them from the schema.
      const union = literals(schema, e.schemaPath?.replace(/\/anyOf\/\d+$/, ''));
      at(e.instancePath).allowed.push(...(union ?? [p.allowedValue]));
    }
    else add(e.instancePath, e.message);
    if (byPath.size > max) break;
  }
  return [...byPath]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, max)
    .map(([path, { msgs, allowed }]) => {
      const all = allowed.length ? [...msgs.filter((m) => !m.startsWith('must be ')), `must be one of ${[...new Set(allowed)].map((v) => JSON.stringify(v)).join(', ')}`] : msgs;
      return `${path || '(top level)'}: ${all.join(' or ')}`;
    });
}

/** The values of a union of literals at `path` (`#/properties/a/...`) in `schema`, or null. */
function literals(schema: unknown, path: string | undefined): unknown[] | null {
  if (!schema || !path?.startsWith('#')) return null;
  let node: unknown = schema;
  for (const key of path.slice(2).split('/').filter(Boolean)) node = (node as Record<string, unknown> | undefined)?.[key];
  const branches = (node as { anyOf?: { const?: unknown }[] } | undefined)?.anyOf;
  return branches?.every((b) => 'const' in b) ? branches.map((b) => b.const) : null;
}
