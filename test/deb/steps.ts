/**
 * What the package's system-test scenarios share: the installed service's paths and token, its
 * journal, waiting on the container, signed callbacks to any address, the trail's counts, and
 * steps run under continuous load with the verdict the issue asks for.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { exitBody, query } from '../helpers/service.js';
import type { Container } from './container.js';
import { signedParams, startLoad, type Tally } from './load.js';

export const PORT = 8080;
export const TOKEN = 'deb-test-token-0123456789';
export const TRAIL = '/var/log/member-exit-audit';
export const FILE = `${TRAIL}/member-exit.ndjson`;
export const CONFIG = '/etc/member-exit-audit/config.json';
export const SERVICE = 'member-exit-audit.service';
export const SOCKET = 'member-exit-audit.socket';
export const ROTATION = 'member-exit-audit-logrotate.service';
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function journal(c: Container, unit = SERVICE): Promise<string> {
  return c.ok(['journalctl', '-u', unit, '-o', 'cat', '--no-pager']);
}

/** The running service's `listening` log line. */
export async function lastListening(c: Container): Promise<Record<string, unknown>> {
  const lines = (await journal(c)).split('\n').filter((l) => l.includes('"msg":"listening"'));
  return recordOf(lines.at(-1) ?? '{}');
}

/** The JSON record of one journal line: under journald it reads `<message> <record>` (src/log.ts). */
export function recordOf(line: string): Record<string, unknown> {
  return JSON.parse(line.slice(line.indexOf('{'))) as Record<string, unknown>;
}

/** How many SIGHUPs the service has logged. */
export async function sighups(c: Container): Promise<number> {
  // Lines, not occurrences: under journald a line carries its message twice (first, and in the JSON).
  return (await journal(c)).split('\n').filter((l) => l.includes('SIGHUP: reopening')).length;
}

/**
 * The warnings in apt's or dpkg's output, but the one purge gives by design: the trail folder is
 * kept (it is evidence), so dpkg cannot remove the directory the package made.
 */
export function warnings(output: string): string[] {
  return output.split(/\r?\n/).filter((l) => /warning/i.test(l) && !l.includes("directory '/var/log/member-exit-audit' not empty"));
}

/** One property of a unit (`systemctl show -P`). */
export async function prop(c: Container, unit: string, name: string): Promise<string> {
  return (await c.ok(['systemctl', 'show', '-P', name, unit])).trim();
}

/** Wait until pred() holds; on time-out, fail with what `why` says (the unit's state, its log). */
export async function waitFor(pred: () => Promise<boolean>, why?: () => Promise<string>, ms = 30000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting${why ? `\n${await why()}` : ''}`);
    await sleep(100);
  }
}

export async function status(c: Container): Promise<string> {
  const st = await c.run(['systemctl', 'status', '--no-pager', '-n', '40', SERVICE, SOCKET]);
  return st.stdout + st.stderr;
}

/** The installed config, as JSON. */
export function readConfig(c: Container): Record<string, unknown> {
  return JSON.parse(readFileSync(c.path(CONFIG), 'utf8')) as Record<string, unknown>;
}

/**
 * One signed callback for `member` to `url` (http or https, any address), as the IM backend sends
 * it. Resolves with the status, the reply and, over TLS, the server certificate's CN.
 */
export function callback(url: string, member: string): Promise<{ status: number; json: Record<string, unknown>; cn?: string }> {
  const u = new URL(url);
  const body = JSON.stringify(exitBody({ ExitMemberList: [{ Member_Account: member }], EventTime: Date.now() }));
  const lib = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(
      { host: u.hostname, port: u.port, method: 'POST', path: query(signedParams(TOKEN)()), headers: { 'content-length': Buffer.byteLength(body) }, agent: false, rejectUnauthorized: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (b: Buffer) => chunks.push(b));
        res.on('end', () => {
          const cn = 'getPeerCertificate' in res.socket ? String((res.socket as import('node:tls').TLSSocket).getPeerCertificate().subject?.CN) : undefined;
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown>, cn });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** 'connected', or the error code of a connection to host:port that fails (ECONNREFUSED). */
export function connectResult(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = new net.Socket();
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    s.connect(port, host);
  });
}

/**
 * How many lines each member has across the current and rotated files (plain or gzip). Regular
 * files only: read from the host, a symlink in the container's tree would point into the host's.
 */
export function trailCounts(c: Container): Map<string, number> {
  const counts = new Map<string, number>();
  const dir = c.path(TRAIL);
  for (const f of readdirSync(dir)) {
    if (!f.startsWith('member-exit.ndjson') || !lstatSync(join(dir, f)).isFile()) continue;
    const raw = readFileSync(join(dir, f));
    const text = f.endsWith('.gz') ? gunzipSync(raw).toString() : raw.toString();
    for (const line of text.split('\n')) {
      if (!line) continue;
      const member = (JSON.parse(line) as { member: string }).member;
      counts.set(member, (counts.get(member) ?? 0) + 1);
    }
  }
  return counts;
}

export interface LoadOptions {
  /**
   * `kill -9`: the requests the killed process had in hand are reset, never acknowledged. A new
   * address: connections still queued on the old listener are reset when it closes.
   */
  resetsAllowed?: boolean;
  /** A new address: connections that arrive between the old listener and the new are refused. */
  refusedAllowed?: boolean;
}

/**
 * A runner of steps under load for one container: each step runs `act` while 6 keep-alive and 2
 * fresh-connection workers send callbacks, then asserts nothing refused, reset or failed and every
 * acknowledged member in the trail exactly once. `acked` gathers every step's members.
 */
export function loadSteps(t: Tap.Test, c: Container, suite: string) {
  const acked: string[] = [];
  let step = 0;
  const underLoad = async (name: string, act: () => Promise<void>, opts: LoadOptions = {}): Promise<Tally> => {
    // Members are named after the step's number, not its name: accounts have a byte limit.
    const load = startLoad(PORT, TOKEN, `${suite}-${++step}`);
    let tally: Tally;
    try {
      await sleep(1000);
      await act();
      await sleep(1500);
    } finally {
      tally = await load.stop();
    }
    acked.push(...tally.acked);
    t.comment(`${suite} ${name}: ${tally.requests} requests on ${tally.connections} connections tried, ${tally.refused} refused, ${tally.reset} requests reset, ${tally.acked.length} members acknowledged`);
    if (!opts.refusedAllowed) t.equal(tally.refused, 0, `${name}: no connection refused`);
    if (!opts.resetsAllowed) t.equal(tally.reset, 0, `${name}: no request reset`);
    t.same(tally.otherErrors, [], `${name}: no other error`);
    t.same(tally.failReplies, [], `${name}: no FAIL reply`);
    t.ok(tally.acked.length > 100, `${name}: ${tally.acked.length} members acknowledged`);
    const counts = trailCounts(c);
    t.equal(tally.acked.filter((m) => counts.get(m) !== 1).length, 0, `${name}: every acknowledged member is in the trail exactly once`);
    return tally;
  };
  return { acked, underLoad };
}

/** When verify fails: each plain trail file's ends (prev and own hash) and the service's file events, so a failure says where. */
export async function chainDiagnosis(t: Tap.Test, c: Container): Promise<void> {
  // Every file in the folder, trail or not: logrotate moves a file in its way aside (`-YYYYMMDDHH.backup`).
  t.comment(`${TRAIL}: ${readdirSync(c.path(TRAIL)).map((f) => `${f} (${lstatSync(join(c.path(TRAIL), f)).size} bytes)`).join(', ')}`);
  for (const f of readdirSync(c.path(TRAIL)).filter((f) => !f.endsWith('.gz') && lstatSync(join(c.path(TRAIL), f)).isFile()).sort()) {
    const lines = readFileSync(join(c.path(TRAIL), f), 'utf8').split('\n').filter(Boolean);
    const ends = [0, 1, lines.length - 2, lines.length - 1].filter((i, k, a) => i >= 0 && a.indexOf(i) === k);
    for (const i of ends) {
      const l = lines[i]!;
      t.comment(`${f}:${i + 1}/${lines.length} member ${/"member":"([^"]*)"/.exec(l)?.[1]} prev ${/"prev":"(\w{12})/.exec(l)?.[1]} hash ${createHash('sha256').update(l).digest('hex').slice(0, 12)}`);
    }
  }
  const events = (await journal(c)).split('\n').filter((l) => /audit file|SIGHUP|torn|"listening"|stopped|draining|audit write/.test(l));
  t.comment(events.slice(-40).join('\n'));
}
