/**
 * Schema pieces and checks that every audited command shares: strings bounded in bytes of UTF-8,
 * the member list, EventTime in both documented shapes, the one way a body is checked and refused,
 * and the bound on what a callback may write.
 */
import { setImmediate } from 'node:timers/promises';
import Type, { type Static, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { planLines, SMALL_LIST, smallLines, type ExitEvent, type Lines, type Member } from '../audit/line.js';
import { AppError } from '../errors.js';
import { describeErrors } from '../schema-errors.js';
import type { CallbackEntry, CommandLimits, RequestFacts, SchemaLimits } from './types.js';

/** 9999-12-31T23:59:59.999Z: the last instant ISO-8601 writes with a four-digit year. */
const MAX_EVENT_MS = 253402300799999;

/** From this many members on, checking and planning a list are separate turns of the event loop. */
const YIELD_MEMBERS = 1000;

/** Problems named in a refusal: enough to fix the sender, few enough to cost nothing. */
const MAX_PROBLEMS = 3;

/**
 * A string of `minLength` to `maxBytes` bytes of UTF-8 (one unit for every limit: JSON Schema's
 * maxLength counts characters). maxLength is the cheap first cut: a character is at least a byte.
 */
export const bytes = (maxBytes: number, minLength = 1) =>
  Type.Refine(
    Type.String({ minLength, maxLength: maxBytes }),
    (s) => s.length * 3 <= maxBytes || Buffer.byteLength(s) <= maxBytes,
    () => `must not be longer than ${maxBytes} bytes`,
  );

export const account = (limits: SchemaLimits, minLength = 1) => bytes(limits.accountBytes, minLength);
export const groupId = (limits: SchemaLimits) => bytes(limits.groupIdBytes);
export const word = (limits: SchemaLimits) => bytes(limits.wordBytes);

/** `[{"Member_Account": "..."}, ...]`: `minItems` (default one) to `limits.members` entries. */
export const member = (limits: SchemaLimits) => Type.Object({ Member_Account: account(limits) });
export const memberList = (limits: CommandLimits & SchemaLimits, minItems = 1) => Type.Array(member(limits), { minItems, maxItems: limits.members });

/** The accounts of a checked member list. */
export const accounts = (list: readonly { Member_Account: string }[]): string[] => list.map((m) => m.Member_Account);

/** Documented as Integer, sent as a string in the documented samples, absent in real captures. */
export const eventTime = () =>
  Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: MAX_EVENT_MS }), Type.String({ pattern: '^[0-9]{1,15}$' })]));

/**
 * A compiled check of `schema` that throws INVALID_CALLBACK naming at most three problems, and
 * returns EventTime in ms or null. TypeBox walks every item of an array even once it has stopped
 * collecting errors (125 ms for 100,000 bad members): the errors are taken from a probe holding
 * only the first bad member instead, so a refusal costs no more than a check.
 */
function bodyCheck<S extends TSchema>(schema: S, listKey: string, limits: CommandLimits & SchemaLimits): (body: unknown) => number | null {
  const check = Compile(schema);
  const checkMember = Compile(member(limits));
  const describe = (body: unknown): string => {
    const list = (body as Record<string, unknown> | null)?.[listKey];
    if (!Array.isArray(list) || list.length <= MAX_PROBLEMS) return describeErrors(check.Errors(body), MAX_PROBLEMS).join('; ');
    if (list.length > limits.members) return `/${listKey}: must not have more than ${limits.members} items`;
    const bad = list.findIndex((m) => !checkMember.Check(m));
    const probe = { ...(body as object), [listKey]: bad === -1 ? list.slice(0, 1) : [list[bad]] };
    const at = new RegExp(`^/${listKey}/0(?=/|$)`);
    return describeErrors(check.Errors(probe), MAX_PROBLEMS)
      .map((p) => (bad > 0 ? p.replace(at, `/${listKey}/${bad}`) : p))
      .join('; ');
  };
  return (body) => {
    if (!check.Check(body)) throw new AppError('INVALID_CALLBACK', describe(body));
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
  /** The key of the member list in the body. */
  listKey: string;
  /** The fields every line of a checked body shares (the request's facts and EventTime are added). */
  event: (body: Static<S>) => Omit<ExitEvent, keyof RequestFacts | 'eventTime'>;
  /**
   * The members of a checked body; null stands for the whole group (a Community dismissal comes
   * without a member list). May refuse a body the schema alone cannot (INVALID_CALLBACK).
   */
  members: (body: Static<S>) => readonly Member[];
}

/**
 * A table entry: the body checked once against the compiled schema, the size of its lines known
 * before they are built (413 OUTPUT_TOO_LARGE over the caller's bound), one line per distinct member.
 */
export function auditedCommand<S extends TSchema>(spec: AuditedCommand<S>): CallbackEntry {
  return {
    command: spec.command,
    defaults: spec.defaults,
    build(limits) {
      const check = bodyCheck(spec.schema(limits), spec.listKey, limits);
      return {
        command: spec.command,
        bodyBytes: limits.bodyBytes,
        toLines(body, facts, maxBytes = Infinity) {
          const eventTime = check(body);
          const b = body as Static<S>;
          const shared = spec.event(b);
          // Field by field, not `{ ...facts, ...shared }`: `facts` is the request's Koa state, and
          // that spread made a ~4 KB object per callback that outlived two scavenges: 10 MB/s of
          // old space at 7,000 callbacks/s, and most of the service's promotions (issue #24,
          // docs/performance.md).
          const event: ExitEvent = {
            sdkAppId: facts.sdkAppId,
            groupId: shared.groupId,
            groupType: shared.groupType,
            exitType: shared.exitType,
            operator: shared.operator,
            eventTime,
            receivedAt: facts.receivedAt,
            clientIp: facts.clientIp,
            optPlatform: facts.optPlatform,
          };
          const members = spec.members(b);
          if (members.length > SMALL_LIST) return plannedLines(event, members, maxBytes);
          // Most callbacks name a member or a few: their lines at once, without a promise. Bytes
          // are counted only when they could be over the bound (a character is at most 3 bytes).
          const lines = smallLines(event, members);
          if (lines.text.length * 3 > maxBytes && Buffer.byteLength(lines.text) > maxBytes) throw tooLarge(Buffer.byteLength(lines.text), lines.count, maxBytes);
          return lines;
        },
      };
    },
  };
}

/** The lines of a long member list: sized first (OUTPUT_TOO_LARGE over `maxBytes`), then built in slices. */
async function plannedLines(event: ExitEvent, members: readonly Member[], maxBytes: number): Promise<Lines> {
  // A long list: other requests get a turn between the check and the plan (a few ms each).
  if (members.length > YIELD_MEMBERS) await setImmediate();
  const plan = planLines(event, members, maxBytes);
  if (plan.bytes > maxBytes) throw tooLarge(plan.bytes, plan.count, maxBytes, plan.estimated);
  return plan.build();
}

function tooLarge(bytes: number, count: number, maxBytes: number, estimated?: boolean): AppError {
  return new AppError('OUTPUT_TOO_LARGE', `${estimated ? 'at least ' : ''}${bytes} bytes of lines (${count} members), over the bound of ${maxBytes} for this callback`);
}
