/**
 * Schema pieces and checks that every audited command shares: bounded strings, the member list,
 * EventTime in both documented shapes, and the one way a body is checked and refused.
 */
import Type, { type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { AppError } from '../errors.js';
import { describeErrors } from '../schema-errors.js';
import type { CommandLimits, SchemaLimits } from './types.js';

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

/** The accounts of a checked member list, in order. */
export const accounts = (list: readonly { Member_Account: string }[]) => list.map((m) => m.Member_Account);
