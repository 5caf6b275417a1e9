/**
 * Group.CallbackAfterGroupDestroyed: the group was dismissed, by its owner on a client or by the app
 * through the REST API destroy_group. Tencent sends no member-exit callback then, so every member
 * of `MemberList` gets a line like a member-exit one, with `exitType` `Destroyed` and `operator`
 * null: the callback does not say who dismissed the group (Tencent IM, "After a Group Is Disbanded").
 * For a Community, Tencent sends no `MemberList` at all ("This field will not be returned for
 * communities"): the group then gets one line of its own, with `member` null too (issue #19).
 */
import Type from 'typebox';
import { AppError } from '../errors.js';
import { accounts, auditedCommand, eventTime, groupId, memberList, word } from './fields.js';
import type { CommandLimits, SchemaLimits } from './types.js';

export const COMMAND = 'Group.CallbackAfterGroupDestroyed';

export function groupDestroyedSchema(limits: CommandLimits & SchemaLimits) {
  return Type.Object({
    CallbackCommand: Type.Literal(COMMAND),
    GroupId: groupId(limits),
    Type: word(limits),
    // Optional, and possibly empty, for a Community only: checked in `members` below.
    MemberList: Type.Optional(memberList(limits, 0)),
    EventTime: eventTime(),
  });
}

export const groupDestroyed = auditedCommand({
  command: COMMAND,
  // A Community group holds up to 100,000 members: its dismissal body is about 3 MB.
  defaults: { bodyBytes: 8 * 1024 * 1024, members: 100000 },
  listKey: 'MemberList',
  schema: groupDestroyedSchema,
  event: (b) => ({ groupId: b.GroupId, groupType: b.Type, exitType: 'Destroyed', operator: null }),
  members: (b) => {
    if (b.MemberList?.length) return accounts(b.MemberList);
    if (b.Type === 'Community') return [null];
    throw new AppError('INVALID_CALLBACK', `/MemberList: ${b.MemberList ? 'must not be empty' : 'is required'} (Tencent leaves it out only for a Community)`);
  },
});
