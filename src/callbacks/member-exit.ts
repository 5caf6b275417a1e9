/**
 * Group.CallbackAfterMemberExit: members quit a group, or were removed by its owner or an admin on a
 * client or by the app through the REST API delete_group_member (Tencent IM, "After a User Leaves a Group"). One audit
 * line per distinct member.
 */
import Type from 'typebox';
import { account, accounts, auditedCommand, eventTime, groupId, memberList, word } from './fields.js';
import type { CommandLimits, SchemaLimits } from './types.js';

export const COMMAND = 'Group.CallbackAfterMemberExit';

/** The body schema; string and list bounds come from the config. */
export function memberExitSchema(limits: CommandLimits & SchemaLimits) {
  return Type.Object({
    CallbackCommand: Type.Literal(COMMAND),
    GroupId: groupId(limits),
    Type: word(limits),
    ExitType: Type.Union([Type.Literal('Kicked'), Type.Literal('Quit')]),
    Operator_Account: account(limits, 0),
    ExitMemberList: memberList(limits),
    EventTime: eventTime(),
  });
}

export const memberExit = auditedCommand({
  command: COMMAND,
  // Tencent's members-per-call is small; 10,000 accounts of 32 bytes fit in well under 1 MiB.
  defaults: { bodyBytes: 1024 * 1024, members: 10000 },
  listKey: 'ExitMemberList',
  schema: memberExitSchema,
  event: (b) => ({ groupId: b.GroupId, groupType: b.Type, exitType: b.ExitType, operator: b.Operator_Account }),
  members: (b) => accounts(b.ExitMemberList),
});
