/** Turn TypeBox's `Errors()` into short "where: what" phrases for replies and start-up messages. */

export interface SchemaError {
  instancePath: string;
  message: string;
  params: unknown;
}

/**
 * One phrase per problem, in order, without duplicates. A union's branches are folded into one
 * "must be integer or must be string"; `required` and `additionalProperties` name the key.
 */
export function describeErrors(errors: Iterable<SchemaError>, max = Infinity): string[] {
  const byPath = new Map<string, string[]>();
  const add = (path: string, msg: string) => {
    const list = byPath.get(path) ?? [];
    if (!list.includes(msg)) list.push(msg);
    byPath.set(path, list);
  };
  for (const e of errors) {
    const p = e.params as { requiredProperties?: string[]; additionalProperties?: string[] };
    if (p.requiredProperties) for (const k of p.requiredProperties) add(`${e.instancePath}/${k}`, 'is required');
    else if (p.additionalProperties) for (const k of p.additionalProperties) add(`${e.instancePath}/${k}`, 'unknown key');
    else if (e.message === 'schema is false' || e.message.startsWith('must match a schema in anyOf')) continue;
    else add(e.instancePath, e.message);
    if (byPath.size >= max) break;
  }
  return [...byPath].slice(0, max).map(([path, msgs]) => `${path || '(top level)'}: ${msgs.join(' or ')}`);
}
