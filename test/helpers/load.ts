/** Send many distinct callbacks over a bounded number of keep-alive connections. */
import http from 'node:http';
import { exitBody, post, type Reply } from './service.js';

export interface Sent {
  /** Members of each acknowledged callback. */
  acked: string[][];
  refused: Reply[];
  errors: Error[];
}

/**
 * `total` callbacks, `connections` at a time, each with 1 to 3 members named `<prefix>-<n>-<k>`.
 * `onReply` runs the moment a reply arrives (before the next request on that connection).
 */
export async function sendMany(
  port: number,
  opts: { total: number; connections: number; prefix?: string; stopWhen?: () => boolean; onSend?: (members: string[]) => void; onReply?: (members: string[], reply: Reply) => void; onError?: (err: NodeJS.ErrnoException) => void; params?: Record<string, string> | (() => Record<string, string>) },
): Promise<Sent> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.connections });
  const out: Sent = { acked: [], refused: [], errors: [] };
  let next = 0;
  const worker = async () => {
    while (next < opts.total && !opts.stopWhen?.()) {
      const n = next++;
      const members = Array.from({ length: (n % 3) + 1 }, (_, k) => `${opts.prefix ?? 'm'}-${n}-${k}`);
      const body = exitBody({ GroupId: `@TGS#g${n % 17}`, ExitMemberList: members.map((m) => ({ Member_Account: m })), EventTime: 1700000000000 + n });
      try {
        opts.onSend?.(members);
        const reply = await post(port, body, typeof opts.params === 'function' ? opts.params() : opts.params, agent);
        opts.onReply?.(members, reply);
        if (reply.status === 200) out.acked.push(members);
        else out.refused.push(reply);
      } catch (err) {
        out.errors.push(err as Error);
        opts.onError?.(err as NodeJS.ErrnoException);
      }
    }
  };
  await Promise.all(Array.from({ length: opts.connections }, worker));
  agent.destroy();
  return out;
}
