/**
 * A client that delivers callbacks the way Tencent's IM backend does (../PROTOCOL.md in the
 * workplace; docs/faults.md): it waits `timeoutMs` (2 s) for a reply, ignores what the reply
 * says, and resends a callback only when it timed out (`resends` times, `resendGapMs` apart, the
 * same body; a new RequestTime and Sign when signed). A 503, a FAIL or a reset counts as
 * delivered and is never sent again. Each callback names members of its own, so that afterwards
 * the trail can be counted: exits sent against exits recorded.
 */
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { basename, dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { exitBody, query } from './service.js';

export interface ImBackendOptions {
  port: number | (() => number);
  /** Callbacks in flight at once (first deliveries; resends come on top, as they do from Tencent). */
  connections: number;
  /** Members are named `<prefix>-<n>-<k>`. */
  prefix: string;
  /** Send new callbacks for this long, or until `total` were sent (whichever comes first). */
  durationMs?: number;
  total?: number;
  /** Members per callback (default 1). */
  members?: number;
  timeoutMs?: number;
  resends?: number;
  resendGapMs?: number;
  /** Query parameters of each attempt (a signature is made anew for a resend). */
  params?: () => Record<string, string>;
  /** The body of callback `n`; default a member-exit with EventTime 1700000000000 + n. */
  body?: (n: number, members: string[]) => Record<string, unknown>;
  /** Ends the run early when it returns true (checked before each new callback). */
  stopWhen?: () => boolean;
}

export interface ImBackendRun {
  /** Every member of every callback sent (its first delivery). */
  sent: Set<string>;
  /** Members of callbacks answered 200 on some attempt. */
  acked: Set<string>;
  callbacks: number;
  attempts: number;
  timedOut: number;
  resent: number;
  /** Callbacks given up after their last resend timed out too. */
  gaveUp: number;
  /** Replies by status (and ErrorCode for non-200), and transport errors by code. */
  outcomes: Record<string, number>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Deliver callbacks as the IM backend does until the duration or the total is reached, then wait for every resend. */
export async function imBackend(opts: ImBackendOptions): Promise<ImBackendRun> {
  const timeoutMs = opts.timeoutMs ?? 2000;
  const agent = new http.Agent({ keepAlive: true });
  const run: ImBackendRun = { sent: new Set(), acked: new Set(), callbacks: 0, attempts: 0, timedOut: 0, resent: 0, gaveUp: 0, outcomes: {} };
  const count = (k: string) => (run.outcomes[k] = (run.outcomes[k] ?? 0) + 1);
  const resends: Promise<void>[] = [];
  const portOf = () => (typeof opts.port === 'function' ? opts.port() : opts.port);

  /** One attempt: 'replied' (any reply, ignored), 'timeout', or 'error' (refused, reset: delivered, for Tencent). */
  const attempt = (body: string, members: string[]) =>
    new Promise<'replied' | 'timeout' | 'error'>((resolve) => {
      run.attempts++;
      let settled = false;
      const settle = (v: 'replied' | 'timeout' | 'error') => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(v);
      };
      const req = http.request(
        { host: '127.0.0.1', port: portOf(), method: 'POST', path: query(opts.params?.() ?? {}), agent, headers: { 'content-length': Buffer.byteLength(body) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            if (settled) return;
            let code = '';
            try {
              code = res.statusCode === 200 ? '' : ` ${JSON.parse(Buffer.concat(chunks).toString()).ErrorCode}`;
            } catch {
              code = ' (not JSON)';
            }
            count(`${res.statusCode}${code}`);
            if (res.statusCode === 200) for (const m of members) run.acked.add(m);
            settle('replied');
          });
          res.on('error', () => settle('error'));
        },
      );
      const timer = setTimeout(() => {
        if (settled) return;
        count('timeout');
        settle('timeout');
        req.destroy();
      }, timeoutMs);
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (settled) return;
        count(e.code ?? e.message);
        settle('error');
      });
      req.end(body);
    });

  /** A callback's first delivery, and its resends (in the background) while they time out. */
  const deliver = async (body: string, members: string[]) => {
    if ((await attempt(body, members)) !== 'timeout') return;
    run.timedOut++;
    resends.push(
      (async () => {
        for (let k = 0; k < (opts.resends ?? 0); k++) {
          await sleep(opts.resendGapMs ?? 1000);
          run.resent++;
          if ((await attempt(body, members)) !== 'timeout') return;
          run.timedOut++;
        }
        run.gaveUp++;
      })(),
    );
  };

  const until = opts.durationMs === undefined ? Infinity : Date.now() + opts.durationMs;
  let next = 0;
  const more = () => Date.now() < until && next < (opts.total ?? Infinity) && !opts.stopWhen?.();
  const worker = async () => {
    while (more()) {
      const n = next++;
      const members = Array.from({ length: opts.members ?? 1 }, (_, k) => `${opts.prefix}-${n}-${k}`);
      for (const m of members) run.sent.add(m);
      run.callbacks++;
      const body = opts.body?.(n, members) ?? exitBody({ GroupId: `@TGS#g${n % 17}`, ExitMemberList: members.map((m) => ({ Member_Account: m })), EventTime: 1700000000000 + n });
      await deliver(JSON.stringify(body), members);
    }
  };
  await Promise.all(Array.from({ length: opts.connections }, worker));
  // Resends may add more resends while they run.
  for (let done = 0; done < resends.length; done = resends.length) await Promise.all(resends.slice(done));
  agent.destroy();
  return run;
}

/**
 * How many lines name each member, across the audit file and every file beside it that starts
 * with its name (rotated, gzipped, or moved aside as `.backup`): what an investigator can find.
 */
export function recorded(file: string): Map<string, number> {
  const out = new Map<string, number>();
  const dir = dirname(file);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names.filter((n) => n.startsWith(basename(file)))) {
    const raw = readFileSync(join(dir, name));
    const text = (raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw).toString();
    for (const line of text.split('\n')) {
      if (!line) continue;
      const member = (JSON.parse(line) as { member?: unknown }).member;
      if (typeof member === 'string') out.set(member, (out.get(member) ?? 0) + 1);
    }
  }
  return out;
}

/** Sent against recorded, as a test prints it: the counts that must hold and the ones that tell the story. */
export function tally(run: ImBackendRun, lines: Map<string, number>) {
  const missing = [...run.sent].filter((m) => !lines.has(m));
  const ackedMissing = [...run.acked].filter((m) => !lines.has(m));
  const twice = [...run.sent].filter((m) => (lines.get(m) ?? 0) > 1).length;
  const summary =
    `sent ${run.sent.size} exits in ${run.callbacks} callbacks (${run.attempts} attempts, ${run.timedOut} timed out, ${run.resent} resent, ${run.gaveUp} given up), ` +
    `recorded ${run.sent.size - missing.length}, twice ${twice}, acknowledged ${run.acked.size}; replies ${JSON.stringify(run.outcomes)}`;
  return { missing, ackedMissing, twice, summary };
}
