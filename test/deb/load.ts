/**
 * Continuous signed callbacks from the host to the installed service, counted the way the issue
 * asks: connections tried, connections refused, requests reset, callbacks acknowledged, and the
 * members of each acknowledged callback, to be found in the trail exactly once.
 */
import http from 'node:http';
import net from 'node:net';
import { sign } from '../../src/http/signature.js';
import { exitBody, post } from '../helpers/service.js';

export interface Tally {
  /** TCP connections opened: keep-alive ones, and one per request on the fresh-connection workers. */
  connections: number;
  requests: number;
  refused: number;
  reset: number;
  otherErrors: string[];
  failReplies: string[];
  acked: string[];
}

export function signedParams(token: string): () => Record<string, string> {
  return () => {
    const time = String(Math.floor(Date.now() / 1000));
    return { RequestTime: time, Sign: sign(token, time) };
  };
}

/**
 * Load until stop() is called; resolves with the tally. `keepAlive` workers reuse their connection
 * as the IM backend does; `fresh` workers open a new connection for every request, so that new
 * connections keep arriving while the service is replaced.
 */
export function startLoad(port: number, token: string, prefix: string, workers = { keepAlive: 6, fresh: 2 }): { stop: () => Promise<Tally> } {
  const tally: Tally = { connections: 0, requests: 0, refused: 0, reset: 0, otherErrors: [], failReplies: [], acked: [] };
  const counted = (agent: http.Agent) => {
    const create = agent.createConnection.bind(agent);
    agent.createConnection = ((opts: net.NetConnectOpts, cb?: () => void) => {
      tally.connections++;
      return create(opts, cb);
    }) as typeof agent.createConnection;
    return agent;
  };
  const shared = counted(new http.Agent({ keepAlive: true, maxSockets: workers.keepAlive }));
  const params = signedParams(token);
  let stopping = false;
  let n = 0;
  const worker = async (keepAlive: boolean) => {
    while (!stopping) {
      // A fresh worker's agent holds no idle socket: every request opens a new connection.
      const agent = keepAlive ? shared : counted(new http.Agent({ keepAlive: false }));
      tally.requests++;
      const i = n++;
      const members = Array.from({ length: (i % 3) + 1 }, (_, k) => `${prefix}-${i}-${k}`);
      try {
        const reply = await post(port, exitBody({ GroupId: `@TGS#${prefix}${i % 7}`, ExitMemberList: members.map((m) => ({ Member_Account: m })), EventTime: Date.now() }), params(), agent);
        if (reply.status === 200 && reply.json.ActionStatus === 'OK') tally.acked.push(...members);
        else tally.failReplies.push(`${reply.status} ${reply.json.ErrorCode ?? ''}`);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ECONNREFUSED') tally.refused++;
        else if (code === 'ECONNRESET' || code === 'EPIPE') tally.reset++;
        else tally.otherErrors.push(code ?? (err as Error).message);
        // A refused or reset connection is not retried at once in a loop: the IM backend would not either.
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  };
  const running = Promise.all([
    ...Array.from({ length: workers.keepAlive }, () => worker(true)),
    ...Array.from({ length: workers.fresh }, () => worker(false)),
  ]);
  return {
    stop: async () => {
      stopping = true;
      await running;
      shared.destroy();
      return tally;
    },
  };
}
