/**
 * Group.CallbackAfterMemberExit: members quit a group or were kicked (../shared/PROTOCOL.md).
 * One audit line per distinct member.
 */
import Type, { type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { formatLines } from '../audit/line.js';
import { AppError } from '../errors.js';
import { describeErrors } from '../schema-errors.js';
import type { CallbackFactory } from './types.js';

export const COMMAND = 'Group.CallbackAfterMemberExit';

/** 9999-12-31T23:59:59.999Z: the last instant ISO-8601 writes with a four-digit year. */
const MAX_EVENT_MS = 253402300799999;

/** The body schema; string and list bounds come from the config's limits. */
export function memberExitSchema(limits: { stringChars: number; membersPerCallback: number }) {
  const text = (minLength: number) => Type.String({ minLength, maxLength: limits.stringChars });
  return Type.Object({
    CallbackCommand: Type.Literal(COMMAND),
    GroupId: text(1),
    Type: text(1),
    ExitType: Type.Union([Type.Literal('Kicked'), Type.Literal('Quit')]),
    Operator_Account: text(0),
    ExitMemberList: Type.Array(Type.Object({ Member_Account: text(1) }), {
      minItems: 1,
      maxItems: limits.membersPerCallback,
    }),
    // Documented as Integer, sent as a string in the documented sample, absent in real captures.
    EventTime: Type.Optional(
      Type.Union([
        Type.Integer({ minimum: 0, maximum: MAX_EVENT_MS }),
        Type.String({ pattern: '^[0-9]{1,15}$' }),
      ]),
    ),
  });
}

export type MemberExitBody = Static<ReturnType<typeof memberExitSchema>>;

export const memberExit: CallbackFactory = (limits) => {
  const check = Compile(memberExitSchema(limits));
  return {
    command: COMMAND,
    toLines(body, facts) {
      if (!check.Check(body)) {
        throw new AppError('INVALID_CALLBACK', describeErrors(check.Errors(body), 3).join('; '));
      }
      const b = body as MemberExitBody;
      const eventTime = b.EventTime === undefined ? null : Number(b.EventTime);
      if (eventTime !== null && eventTime > MAX_EVENT_MS) {
        throw new AppError('INVALID_CALLBACK', '/EventTime: must not be after year 9999');
      }
      const members = b.ExitMemberList.map((m) => m.Member_Account);
      return formatLines(
        {
          sdkAppId: facts.sdkAppId,
          groupId: b.GroupId,
          groupType: b.Type,
          exitType: b.ExitType,
          operator: b.Operator_Account,
          eventTime,
          receivedAt: facts.receivedAt,
          clientIp: facts.clientIp,
          optPlatform: facts.optPlatform,
        },
        members,
      );
    },
  };
};
