/**
 * Schema pieces and checks that every audited command shares: bounded strings, the member list,
 * EventTime in both documented shapes, and the one way a body is checked and refused.
 */
import Type, { type Static, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { formatLinesYielding, type ExitEvent } from '../audit/line.js';
import { AppError } from '../errors.js';
import { describeErrors } from '../schema-errors.js';
import type { CallbackEntry, CommandLimits, RequestFacts, SchemaLimits } from './types.js';

/** 9999-12-31T23:59:59.999Z: the last instant ISO-8601 writes with a four-digit year. */
const MAX_EVENT_MS = 253402300799999;

/** A string of at least `minLength` and at most the config's `stringChars` characters. */
export const text = (limits: SchemaLimits, minLength: number) => Type.String({ minLength, maxLength: limits.stringChars });

/** `[{"Member_Account": "..."}, ...]`: one to `limits.members` entries. */
export const memberList = (limits: CommandLimits & SchemaLimits) =>
  Type.Array(Type.Object({ Member_Account: text(limits, 1) }), { minItems: 1, maxItems: limits.members });

/** Documented as Integer, sent as a string in the documented samples, absent in real captures. */
export const eventTime = () =>
  Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: MAX_EVENT_MS }), Type.String({ pattern: '^[0-9]{1,15}$' })]));

/**
 * A compiled check of `schema` that throws INVALID_CALLBACK naming at most three fields (TypeBox
 * stops collecting there: a hostile body can hold thousands of errors), and returns EventTime in ms
 * or null.
 */
export function bodyCheck<T extends TSchema>(schema: T): (body: unknown) => number | null {
  const check = Compile(schema);
  return (body) => {
    if (!check.Check(body)) throw new AppError('INVALID_CALLBACK', describeErrors(check.Errors(body), 3).join('; '));
    const raw = (body as { EventTime?: number | string }).EventTime;
    const ms = raw === undefined ? null : Number(raw);
    if (ms !== null && ms > MAX_EVENT_MS) throw new AppError('INVALID_CALLBACK', '/EventTime: must not be after year 9999');
    return ms;
  };
}

/** What a module says about its command; `auditedCommand` makes it a table entry. */
export interface AuditedCommand<S extends TSchema> {
  command: string;
  defaults: CommandLimits;
  schema: (limits: CommandLimits & SchemaLimits) => S;
  /** The fields every line of a checked body shares (the request's facts and EventTime are added). */
  event: (body: Static<S>) => Omit<ExitEvent, keyof RequestFacts | 'eventTime'>;
  /** The member list of a checked body. */
  members: (body: Static<S>) => readonly { Member_Account: string }[];
}

/** A table entry: the body checked once against the compiled schema, one line per distinct member. */
export function auditedCommand<S extends TSchema>(spec: AuditedCommand<S>): CallbackEntry {
  return {
    command: spec.command,
    defaults: spec.defaults,
    build(limits) {
      const check = bodyCheck(spec.schema(limits));
      return {
        command: spec.command,
        bodyBytes: limits.bodyBytes,
        toLines(body, facts) {
          const eventTime = check(body);
          const b = body as Static<S>;
          return formatLinesYielding({ ...facts, ...spec.event(b), eventTime }, spec.members(b).map((m) => m.Member_Account));
        },
      };
    },
  };
}
