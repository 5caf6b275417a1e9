/**
 * The audit line: its fields, their order, and its id. This is a contract with grep, jq and log
 * shippers (docs/audit-line.md); the JSON Schema in schema/audit-line.schema.json is generated
 * from TrailLineSchema (an exit line or a seal line) by `npm run schema` and a test keeps the two equal.
 */
import { createHash, hash, randomUUID } from 'node:crypto';
import { setImmediate } from 'node:timers/promises';
import Type, { type Static } from 'typebox';
import { str } from './json.js';

const ISO_MS = '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$';

export const AuditLineSchema = Type.Object(
  {
    time: Type.String({ pattern: ISO_MS, description: 'EventTime as ISO-8601 UTC with ms; the receive time when EventTime is absent' }),
    event: Type.Literal('group.member.exit'),
    sdkAppId: Type.String({ pattern: '^[0-9]+$', description: 'SDKAppID from the query string' }),
    groupId: Type.String({ description: 'GroupId' }),
    groupType: Type.String({ description: 'Type: Work, Public, Meeting, AVChatRoom, Community, or an older name' }),
    exitType: Type.Union([Type.Literal('Kicked'), Type.Literal('Quit'), Type.Literal('Destroyed')], {
      description: 'Kicked or Quit (Group.CallbackAfterMemberExit); Destroyed: the group was dismissed (Group.CallbackAfterGroupDestroyed)',
    }),
    operator: Type.Union([Type.String(), Type.Null()], {
      description: 'Operator_Account: the kicker for Kicked, the member for Quit; null for Destroyed (Tencent does not say who dismissed the group)',
    }),
    member: Type.Union([Type.String({ minLength: 1 }), Type.Null()], {
      description: 'one Member_Account of ExitMemberList (or MemberList); null on the one line of a Community dismissal, for which Tencent sends no member list',
    }),
    eventTime: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'EventTime in Unix ms, or null when absent' }),
    receivedAt: Type.String({ pattern: ISO_MS, description: 'when this service received the callback' }),
    clientIp: Type.Union([Type.String(), Type.Null()], { description: 'query ClientIP: the end user, not the IM backend' }),
    optPlatform: Type.Union([Type.String(), Type.Null()], { description: 'query OptPlatform, free text' }),
    id: Type.String({ pattern: '^[0-9a-f]{32}$', description: 'stable for a retried callback when EventTime is present; random otherwise' }),
    prev: Type.Optional(
      Type.String({ pattern: '^[0-9a-f]{64}$', description: 'with audit.chain: SHA-256 (hex) of the previous line, without its newline; 64 zeros for the first line ever' }),
    ),
  },
  { additionalProperties: false, title: 'member-exit line' },
);

export type AuditLine = Static<typeof AuditLineSchema>;

const HEX = (n: number) => `^[0-9a-f]{${n}}$`;

/** A seal line (src/audit/seal-line.ts writes it; docs/audit-line.md, "Seal lines"): not an exit. */
export const SealLineSchema = Type.Object(
  {
    time: Type.String({ pattern: ISO_MS, description: 'when the seal was made' }),
    event: Type.Literal('seal'),
    epoch: Type.Integer({ minimum: 0, description: 'the epoch whose key made the MAC, counted from the verification key\'s start' }),
    final: Type.Boolean({ description: 'true: the one seal that closes its epoch; false: a seal made mid-epoch at a reopen of the file' }),
    key: Type.String({ pattern: HEX(16), description: 'fingerprint of the verification key' }),
    id: Type.String({ pattern: HEX(32), description: 'a hash of what the seal says: unique, for a store keyed by id' }),
    mac: Type.String({ pattern: HEX(64), description: 'HMAC-SHA-256 under the epoch\'s key of the seal and the chain head before it (prev)' }),
    prev: Type.String({ pattern: HEX(64), description: 'the chain head: SHA-256 of the previous line' }),
  },
  { additionalProperties: false, title: 'seal line' },
);

/** Any line of the trail: an exit or a seal, told apart by `event`. The published JSON Schema. */
export const TrailLineSchema = Type.Union([AuditLineSchema, SealLineSchema], { $id: 'https://member-exit-audit/audit-line.schema.json', title: 'member-exit-audit line' });

export type ExitType = 'Kicked' | 'Quit' | 'Destroyed';

/** A member who left; null stands for the whole group on the one line of a Community dismissal. */
export type Member = string | null;

/** What one callback contributes to every line it produces. */
export interface ExitEvent {
  sdkAppId: string;
  groupId: string;
  groupType: string;
  exitType: ExitType;
  /** Null when Tencent does not say who did it (a dismissed group). */
  operator: string | null;
  eventTime: number | null;
  receivedAt: number;
  clientIp: string | null;
  optPlatform: string | null;
}

const orNull = (s: string | null) => (s === null ? 'null' : str(s));

// Callbacks arriving in the same millisecond share one receivedAt string.
let lastMs = NaN;
let lastIso = '';
function iso(ms: number): string {
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}

/**
 * The ids of a callback's lines: a hash of the event's identity when EventTime is known, else
 * random. The identity is the JSON array [sdkAppId, groupId, eventTime, exitType, operator,
 * member], an unambiguous encoding whatever the strings hold; its common head is encoded once per
 * callback. `crypto.hash` (one-shot, Node 20.12+) costs a quarter of a Hash object per line.
 */
export function idMaker(e: ExitEvent): (member: Member) => string {
  if (e.eventTime === null) return () => randomUUID().replace(/-/g, '');
  const head = JSON.stringify([e.sdkAppId, e.groupId, e.eventTime, e.exitType, e.operator]).slice(0, -1) + ',';
  if (head.length < LONG_HEAD) return (member) => hash('sha256', head + JSON.stringify(member) + ']', 'hex').slice(0, 32);
  // A long head (fields near their limits, escaped) is hashed once; each member continues a copy.
  const hashed = createHash('sha256').update(head);
  return (member) => hashed.copy().update(JSON.stringify(member) + ']').digest('hex').slice(0, 32);
}

/** From this many characters of shared identity on, copying a hash state beats hashing it again (2x at 1.2 KB). */
const LONG_HEAD = 512;

/** The id of one member line (see idMaker). */
export function lineId(e: ExitEvent, member: Member): string {
  return idMaker(e)(member);
}

/** The NDJSON text of one callback (a Buffer when it was built in slices) and how many lines it holds. */
export interface Lines {
  text: string | Buffer;
  count: number;
  /** The lines' ids in order, when they are stable (EventTime known): a resend carries the same. */
  ids?: string[];
}

/** Bytes of lines built in one go before yielding to the event loop (about a millisecond of work). */
const SLICE_BYTES = 256 * 1024;

/** The parts every line of one callback shares, serialised once, and its id maker. */
function linesOf(e: ExitEvent): { head: string; tail: string; id: (member: Member) => string } {
  const head =
    `{"time":"${new Date(e.eventTime ?? e.receivedAt).toISOString()}","event":"group.member.exit"` +
    `,"sdkAppId":${str(e.sdkAppId)},"groupId":${str(e.groupId)},"groupType":${str(e.groupType)}` +
    `,"exitType":"${e.exitType}","operator":${orNull(e.operator)},"member":`;
  const tail =
    `,"eventTime":${e.eventTime === null ? 'null' : e.eventTime}` +
    `,"receivedAt":"${iso(e.receivedAt)}"` +
    `,"clientIp":${orNull(e.clientIp)},"optPlatform":${orNull(e.optPlatform)},"id":"`;
  return { head, tail, id: idMaker(e) };
}

/** A callback's lines, sized before a byte of them is built (see planLines). */
export interface LinesPlan {
  /** How many bytes the lines take: exactly, or (`estimated`, over `maxBytes`) at least. */
  bytes: number;
  /** Set when the plan stopped at the estimate: the lines cannot fit, and are not built. */
  estimated?: true;
  /** Lines to write. */
  count: number;
  /** Build them into one Buffer of `bytes`, a slice of members at a time with a yield between. */
  build(): Promise<Lines>;
  /** The same bytes in one go (tests and benchmarks that make lines without a server). */
  buildSync(): Lines;
}

/** `"}` and a newline close every line, after the 32-character id. */
const CLOSE = Buffer.from('"}\n');

/**
 * Plan the lines of one callback: the distinct members, escaped once, and the exact size, so a
 * caller can refuse a callback whose lines would be too large before building any. The build then
 * writes straight into one Buffer of that size: the shared head and tail are encoded once and
 * copied per line, so a line costs a member's escape and its id, not a string of the whole line
 * (rope-building and then encoding a 22 MB string took 100 ms; this takes a fraction).
 */
export function planLines(e: ExitEvent, members: readonly Member[], maxBytes = Infinity, fastPath = true): LinesPlan {
  if (fastPath && members.length <= SMALL_LIST) return planSmall(e, members);
  const l = linesOf(e);
  const head = Buffer.from(l.head);
  const tail = Buffer.from(l.tail);
  const shared = head.length + tail.length + 32 + CLOSE.length;
  const distinct = [...new Set(members)];
  // The cheap estimate first (a member is at least `""`, 3 bytes): a callback that cannot fit
  // costs no escaping (issue #12: the worst refused request).
  const least = distinct.length * (shared + 3);
  if (least > maxBytes) {
    const over = () => {
      throw new Error(`at least ${least} bytes of lines, over ${maxBytes}`);
    };
    return { bytes: least, estimated: true, count: distinct.length, build: async () => over(), buildSync: over };
  }
  const written: string[] = [];
  let bytes = 0;
  for (const m of distinct) {
    const w = m === null ? 'null' : str(m);
    written.push(w);
    bytes += shared + Buffer.byteLength(w);
  }
  const out = () => Buffer.allocUnsafe(bytes);
  const ids: string[] | undefined = e.eventTime === null ? undefined : new Array<string>(distinct.length);
  /** Lines `from` to `to` of the plan into `buf` at `at`; returns where they end. */
  const fill = (buf: Buffer, at: number, from: number, to: number): number => {
    for (let i = from; i < to; i++) {
      at += head.copy(buf, at);
      at += buf.write(written[i]!, at);
      at += tail.copy(buf, at);
      const id = l.id(distinct[i]!);
      if (ids) ids[i] = id;
      at += buf.write(id, at, 'latin1');
      at += CLOSE.copy(buf, at);
    }
    return at;
  };
  return {
    bytes,
    count: distinct.length,
    async build() {
      const buf = out();
      // As many members as make about SLICE_BYTES of lines: 700 ordinary ones, 100 at the limits.
      const slice = Math.max(1, Math.floor(SLICE_BYTES / (bytes / distinct.length)));
      for (let at = 0, i = 0; i < distinct.length; i += slice) {
        if (i) await setImmediate();
        at = fill(buf, at, i, Math.min(i + slice, distinct.length));
      }
      return { text: buf, count: distinct.length, ids };
    },
    buildSync() {
      const buf = out();
      fill(buf, 0, 0, distinct.length);
      return { text: buf, count: distinct.length, ids };
    },
  };
}

/** Up to this many members, a callback's lines are one string built at once (issue #24: most callbacks name one member). */
export const SMALL_LIST = 10;

/**
 * The few lines of a small callback as one string: the same bytes as the general path (a test
 * compares them), without its buffers, sets and arrays. A dozen lines cannot pass any output bound
 * (64 KiB at least), so there is nothing to estimate, and nothing to plan: the request path takes
 * them as they are (issue #24).
 */
export function smallLines(e: ExitEvent, members: readonly Member[]): Lines {
  const l = linesOf(e);
  const ids: string[] | undefined = e.eventTime === null ? undefined : [];
  let text = '';
  let count = 0;
  for (let i = 0; i < members.length; i++) {
    const m = members[i]!;
    if (i > 0 && members.indexOf(m) !== i) continue;
    const id = l.id(m);
    ids?.push(id);
    text += l.head + (m === null ? 'null' : str(m)) + l.tail + id + '"}\n';
    count++;
  }
  return { text, count, ids };
}

/** smallLines as a plan (tests and benchmarks that compare the two paths). */
function planSmall(e: ExitEvent, members: readonly Member[]): LinesPlan {
  const lines = smallLines(e, members);
  return { bytes: Buffer.byteLength(lines.text), count: lines.count, build: async () => lines, buildSync: () => lines };
}

/** The lines of one callback as one string (planLines builds the same bytes; the service uses it). */
export function formatLines(e: ExitEvent, members: readonly Member[]): Lines & { text: string } {
  const lines = planLines(e, members).buildSync();
  return { text: lines.text.toString(), count: lines.count, ids: lines.ids };
}

