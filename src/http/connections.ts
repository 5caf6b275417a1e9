/**
 * Fair use of the callback listener's connections (issue #23): one client holding every
 * connection (4,096 idle keep-alive ones, or headers that never finish) locked the IM backend out
 * for a minute, because Node drops every new connection past `maxConnections`, silently. Here:
 *
 * - a bound per source address (`limits.maxConnectionsPerSource`; trusted proxies are exempt,
 *   every connection comes from them): past it, that source's oldest idle connection is closed
 *   for the new one, or the new one is refused;
 * - near the global bound (`limits.maxConnections`), idle connections are reclaimed first,
 *   oldest first, those that never delivered an authenticated callback before those that did; a
 *   connection with a request in progress (a callback held through a disk fault) is never taken;
 * - headers must arrive within `limits.headersTimeoutMs` of a connection's first byte (or of its
 *   opening), checked here on every connection: Node's own check (its connections list) did not
 *   fire for a slow client once the service had served other requests (issue #23 item 11);
 * - every refused, reclaimed or cut-off connection is counted (`member_exit_audit_connections_closed_total`)
 *   and logged, at most once per `LOG_EVERY_MS` with the counts since.
 *
 * And the requests on one connection (pipelining): a connection that is to close (the SIGTERM
 * drain, a refusal before its body was read) closes after the answer to the last request received
 * on it, never between writing a callback's lines and answering it.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { normalizeIp } from '../cidr.js';

/** How often connections are checked for headers that do not come. */
const SWEEP_MS = 500;
/** At most one warn line per this many ms about closed connections, with the counts since the last. */
const LOG_EVERY_MS = 10_000;

export type CloseReason = 'per_source' | 'limit' | 'reclaimed' | 'headers_timeout';

interface Conn {
  ip: string;
  exempt: boolean;
  /** Requests received on it, and answered. */
  received: number;
  answered: number;
  /** When it began to wait for a request (opened, or its last answer sent), and bytes read then. */
  waitSince: number;
  bytesAtWait: number;
  /** When bytes of a request were first seen after that (0: none yet). */
  startedAt: number;
  /** It delivered a callback that passed the source, app and signature checks. */
  trusted: boolean;
  /** Close after the answer to the last request received. */
  closeWanted: boolean;
  /** The request whose answer said `Connection: close` (0: none yet). */
  closeSentWith: number;
  closing: boolean;
}

const CONN = Symbol('member-exit-audit connection');
const SEQ = Symbol('member-exit-audit request number');

type Tracked = Socket & { [CONN]?: Conn };

export interface GuardOptions {
  maxConnections: number;
  maxPerSource: number;
  /** Peers not bound per source (trusted proxies: all traffic comes through them). */
  exempt: () => (ip: string) => boolean;
  headersTimeoutMs: number;
  log: Logger;
  onClose: (reason: CloseReason) => void;
  /** The 408 written to a connection whose headers did not come in time. */
  timeoutReply: () => string;
}

export interface Guard {
  /** Connections open now. */
  readonly open: number;
  /** This request's connection delivered an authenticated callback: reclaim others first. */
  trust(req: IncomingMessage): void;
  /** Close this request's connection once every request received on it is answered. */
  closeAfter(req: IncomingMessage): void;
  /** Whether the answer to `req` is the last one due on its connection and the connection is to close: send `Connection: close` with it. */
  closesWith(req: IncomingMessage): boolean;
  /** Whether `req` came on a connection already told it closes: it is not processed. */
  late(req: IncomingMessage): boolean;
  stop(): void;
}

/**
 * A response is done (sent, or its connection gone): the connection may be idle from now. One
 * function for every response rather than a closure per request (issue #24: fewer allocations).
 */
function answered(this: ServerResponse): void {
  const socket = this.req.socket;
  const c = (socket as Tracked)[CONN]!;
  c.answered++;
  c.waitSince = Date.now();
  c.bytesAtWait = socket.bytesRead;
}

export function guardConnections(server: Server, opts: GuardOptions): Guard {
  const conns = new Map<Socket, Conn>();
  const perSource = new Map<string, number>();
  const closedSince = new Map<CloseReason, number>();
  let lastLog = 0;

  const noteClosed = (reason: CloseReason, ip: string) => {
    opts.onClose(reason);
    closedSince.set(reason, (closedSince.get(reason) ?? 0) + 1);
    const now = Date.now();
    if (now - lastLog < LOG_EVERY_MS) return;
    lastLog = now;
    opts.log.warn({ stage: 'receiving', remote: ip, closed: Object.fromEntries(closedSince), open: conns.size }, 'connections closed to keep the listener fair');
    closedSince.clear();
  };

  /** The oldest idle connection (of `ip`, when given), untrusted ones first. */
  const idlest = (ip?: string): Socket | null => {
    let trustedIdle: Socket | null = null;
    for (const [socket, c] of conns) {
      if (c.closing || c.received !== c.answered || (ip !== undefined && c.ip !== ip)) continue;
      if (!c.trusted) return socket;
      trustedIdle ??= socket;
    }
    return trustedIdle;
  };

  const drop = (socket: Socket, reason: CloseReason) => {
    const c = conns.get(socket);
    if (c) c.closing = true;
    noteClosed(reason, c?.ip ?? normalizeIp(socket.remoteAddress ?? ''));
    socket.destroy();
  };

  // Node would refuse past maxConnections itself, silently: the bound is kept here instead.
  server.maxConnections = Infinity;
  server.on('drop', () => noteClosed('limit', ''));
  server.on('connection', (socket: Socket) => {
    const ip = normalizeIp(socket.remoteAddress ?? '');
    const exempt = opts.exempt()(ip);
    if (!exempt && (perSource.get(ip) ?? 0) >= opts.maxPerSource) {
      const old = idlest(ip);
      if (!old) return drop(socket, 'per_source');
      drop(old, 'reclaimed');
    }
    if (conns.size >= opts.maxConnections) {
      const old = idlest();
      if (!old) return drop(socket, 'limit');
      drop(old, 'reclaimed');
    }
    const c: Conn = { ip, exempt, received: 0, answered: 0, waitSince: Date.now(), bytesAtWait: 0, startedAt: 0, trusted: false, closeWanted: false, closeSentWith: 0, closing: false };
    conns.set(socket, c);
    (socket as Tracked)[CONN] = c;
    if (!exempt) perSource.set(ip, (perSource.get(ip) ?? 0) + 1);
    socket.once('close', () => {
      conns.delete(socket);
      if (exempt) return;
      const n = (perSource.get(ip) ?? 1) - 1;
      if (n) perSource.set(ip, n);
      else perSource.delete(ip);
    });
  });

  // Before the app's own listener: the request is counted when the app first sees it.
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    const c = (req.socket as Tracked)[CONN];
    if (!c) return;
    (req as IncomingMessage & { [SEQ]?: number })[SEQ] = ++c.received;
    c.startedAt = 0;
    res.on('close', answered);
  });

  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [socket, c] of conns) {
      if (c.closing || c.received !== c.answered) continue;
      // A new connection is there to send a request: its clock starts when it opens. A kept-alive
      // one may idle (keepAliveTimeoutMs closes it); its clock starts with the first byte of its next request.
      if (c.received > 0 && c.startedAt === 0) {
        if (socket.bytesRead === c.bytesAtWait) continue;
        c.startedAt = now;
      }
      const since = c.received === 0 ? c.waitSince : c.startedAt;
      if (now - since < opts.headersTimeoutMs) continue;
      c.closing = true;
      noteClosed('headers_timeout', c.ip);
      if (socket.writable) socket.end(opts.timeoutReply());
      setTimeout(() => socket.destroy(), 1000).unref();
    }
  }, SWEEP_MS);
  sweep.unref();

  const connOf = (req: IncomingMessage) => (req.socket as Tracked)[CONN];
  return {
    get open() {
      return conns.size;
    },
    trust(req) {
      const c = connOf(req);
      if (c) c.trusted = true;
    },
    closeAfter(req) {
      const c = connOf(req);
      if (c) c.closeWanted = true;
    },
    closesWith(req) {
      const c = connOf(req);
      const seq = (req as IncomingMessage & { [SEQ]?: number })[SEQ];
      if (!c?.closeWanted || seq !== c.received) return false;
      c.closing = true;
      c.closeSentWith = seq;
      return true;
    },
    late(req) {
      const c = connOf(req);
      const seq = (req as IncomingMessage & { [SEQ]?: number })[SEQ] ?? 0;
      return c !== undefined && c.closeSentWith !== 0 && seq > c.closeSentWith;
    },
    stop() {
      clearInterval(sweep);
    },
  };
}
