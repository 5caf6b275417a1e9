/**
 * The configuration: its schema (the user's documentation), the defaults in config/default.json,
 * a JSON file laid over them, and environment variables on top. Checked once at start; a bad or
 * unknown key stops the process with one message naming every problem (exit code 2).
 */
import { readFileSync } from 'node:fs';
import Type, { type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { cidrList } from './cidr.js';
import { describeErrors } from './schema-errors.js';

const Token = Type.String({ minLength: 1, maxLength: 1024 });

const App = Type.Object(
  {
    /** The app's SDKAppID, digits only, as the IM backend sends it in `SdkAppid`. */
    sdkAppId: Type.String({ pattern: '^[0-9]{1,20}$' }),
    /** Callback authentication token from the IM console. With any token, every callback must be signed. */
    token: Type.Optional(Token),
    /**
     * Several tokens, any of which signs a valid callback: add the new one before changing it in
     * the IM console, remove the old one after (SIGHUP reloads them). Combined with `token`.
     */
    tokens: Type.Optional(Type.Array(Token, { maxItems: 16 })),
    /**
     * A file holding the token, or several, one per line (blank lines ignored; read at start and
     * on SIGHUP). For systemd LoadCredential=. A file that does not exist (the token not yet in
     * place) is not an error: the service starts, warns, and refuses every callback of the app
     * until the file is there (fail closed); any other read error is.
     */
    tokenFile: Type.Optional(Type.String({ minLength: 1 })),
    /** Several such files, read the same way. */
    tokenFiles: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { maxItems: 16 })),
  },
  { additionalProperties: false },
);

const ConfigSchema = Type.Object(
  {
    listen: Type.Object(
      {
        /** Address the callback listener binds. Default 127.0.0.1: put a proxy or an allowlist in front. */
        host: Type.String({ minLength: 1 }),
        /** Port of the callback listener; 0 picks any free port (logged in the `listening` line). */
        port: Type.Integer({ minimum: 0, maximum: 65535 }),
      },
      { additionalProperties: false },
    ),
    /** The one URL path the IM console is configured with; every command arrives here. */
    callbackPath: Type.String({ pattern: '^/' }),
    /** The apps whose callbacks are accepted (query `SdkAppid`). At least one. */
    apps: Type.Array(App, { minItems: 1 }),
    /** Source addresses or CIDRs (IPv4, IPv6) allowed to post callbacks; absent means any. 403 otherwise. */
    allowSources: Type.Optional(Type.Array(Type.String(), { minItems: 1 })),
    /** Addresses or CIDRs of reverse proxies whose X-Forwarded-For is believed. Empty: the socket address counts. */
    trustProxy: Type.Array(Type.String()),
    /** Serve HTTPS directly (no proxy). SIGHUP reloads both files. */
    tls: Type.Optional(
      Type.Object({ certFile: Type.String({ minLength: 1 }), keyFile: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
    ),
    /** The admin listener: GET /healthz, /readyz, /metrics. Keep it private. */
    admin: Type.Object(
      {
        host: Type.String({ minLength: 1 }),
        /** 0 picks any free port (logged in the `admin listening` line). */
        port: Type.Integer({ minimum: 0, maximum: 65535 }),
      },
      { additionalProperties: false },
    ),
    /** How far `RequestTime` may be from now, in seconds, before a signed callback is a replay. */
    maxSkewSeconds: Type.Integer({ minimum: 1, maximum: 3600 }),
    audit: Type.Object(
      {
        /** The NDJSON file; relative paths are taken from the working directory. */
        file: Type.String({ minLength: 1 }),
        /** `fsync`: ack after write + fdatasync (default). `write`: ack after write (survives a crash of the process, not of the machine). */
        durability: Type.Union([Type.Literal('fsync'), Type.Literal('write')]),
        /**
         * Bytes of lines that may wait for the disk (a slow or full disk). Beyond this, the body of
         * a new callback is not read until there is room (TCP pushes back on the sender), and one
         * still waiting at `limits.requestDeadlineMs` is answered 503 OVERLOADED with nothing
         * written, for Tencent to resend. Lines already queued are never dropped. A callback whose
         * lines alone are larger is refused at once (413 OUTPUT_TOO_LARGE).
         */
        maxQueueBytes: Type.Integer({ minimum: 65536 }),
        /** How often (ms) the path is checked for rename or deletion by an outside rotator while idle. */
        rotateCheckMs: Type.Integer({ minimum: 50, maximum: 60000 }),
        /**
         * Before each batch, check that the path still names the open file (one stat) and reopen
         * first when logrotate has renamed it: lines written after a rename go to the new file,
         * not to the rotated one a shipper may have let go (docs/shipping.md). On by default.
         */
        checkEachBatch: Type.Boolean(),
        /**
         * Tamper evidence: each line gains `prev`, the SHA-256 of the line before (docs/investigating.md,
         * "Tamper evidence"). On by default; sealing needs it.
         */
        chain: Type.Boolean(),
        /** Forward-secure sealing (docs/investigating.md, "Tamper evidence"): on when `stateFile` exists. */
        seal: Type.Object(
          {
            /**
             * The sealing state that `member-exit-audit setup-keys` makes: the current epoch's key,
             * readable by the service user only, replaced at every epoch. Keep it outside the
             * trail's folder (shippers and readers of the trail need not see it). While it does not
             * exist the service starts without sealing and warns at every start.
             */
            stateFile: Type.String({ minLength: 1 }),
            /** Refuse to start (exit 1) while `stateFile` does not exist, instead of warning. Default false. */
            required: Type.Boolean(),
          },
          { additionalProperties: false },
        ),
        /**
         * A line whose id was taken in within this many ms is not written again: Tencent resends a
         * callback whose first delivery timed out (with the same EventTime, so the same ids), and
         * a callback held through a disk fault may have been written by then. 0 turns it off.
         * Rebuilt from the file's tail at start. Lines without EventTime have random ids and are
         * never matched (docs/audit-line.md).
         */
        dedupWindowMs: Type.Integer({ minimum: 0, maximum: 24 * 3600 * 1000 }),
        /** At most this many ids are remembered for `dedupWindowMs` (about 50 bytes of memory each): at a high rate the window is shorter. */
        dedupMaxIds: Type.Integer({ minimum: 0, maximum: 10000000 }),
        /**
         * The audited commands (Group.CallbackAfterMemberExit, Group.CallbackAfterGroupDestroyed),
         * each on by default with its own limits: `enabled: false` answers it OK unread like any
         * other command; `bodyBytes` is its largest body (413 beyond), `members` its longest list.
         */
        commands: Type.Record(
          Type.String(),
          Type.Object(
            {
              enabled: Type.Optional(Type.Boolean()),
              bodyBytes: Type.Optional(Type.Integer({ minimum: 1024, maximum: 256 * 1024 * 1024 })),
              members: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000000 })),
            },
            { additionalProperties: false },
          ),
        ),
      },
      { additionalProperties: false },
    ),
    limits: Type.Object(
      {
        /**
         * Largest body of a command that is not audited, read and discarded unparsed before it is
         * answered OK (413 beyond). Audited commands have their own limits in `audit.commands`.
         */
        otherBodyBytes: Type.Integer({ minimum: 1024, maximum: 256 * 1024 * 1024 }),
        /**
         * Longest account (Member_Account, Operator_Account), in bytes of UTF-8. Tencent's UserID is
         * at most 32 bytes; twice that leaves room without inviting abuse.
         */
        accountBytes: Type.Integer({ minimum: 8, maximum: 4096 }),
        /**
         * Longest GroupId, in bytes of UTF-8. Tencent's custom GroupId is at most 48 bytes, a
         * Community's carries a `@TGS#_` prefix on top (`@TGS#_@TGS#cQVLVHIM62CJ`): 128 leaves room.
         */
        groupIdBytes: Type.Integer({ minimum: 8, maximum: 4096 }),
        /** Longest short word: the group `Type` and the query's `OptPlatform` (`AVChatRoom`, `Windows`), in bytes. */
        wordBytes: Type.Integer({ minimum: 8, maximum: 4096 }),
        /** Longest query `ClientIP`, in bytes: an IPv6 address with a zone id fits in 64. */
        clientIpBytes: Type.Integer({ minimum: 8, maximum: 4096 }),
        /**
         * Most bytes of audit lines one callback may produce per byte of its body (on top of 64 KiB).
         * Every line repeats the shared fields, so a small body could otherwise ask for a huge
         * write: over the bound, or over audit.maxQueueBytes, the callback gets 413 OUTPUT_TOO_LARGE.
         * Tencent's callbacks produce 10 to 20 bytes per body byte.
         */
        outputPerBodyByte: Type.Integer({ minimum: 1, maximum: 1024 }),
        /**
         * The hold: an audited callback whose lines are not on disk within this many ms of its
         * arrival is answered 503 (with the fault: WRITE_FAILED, OVERLOADED, DEADLINE, ...), and
         * its lines are written as soon as the disk allows. It must be above Tencent's 2 s
         * timeout: the IM backend ignores the reply to an after-callback and resends only one that
         * timed out, so an earlier 503 loses the exit for good (docs/faults.md). Below 2000 the
         * service warns at start.
         */
        requestDeadlineMs: Type.Integer({ minimum: 50, maximum: 60000 }),
        /** Time allowed to receive the request headers (slowloris guard). */
        headersTimeoutMs: Type.Integer({ minimum: 100 }),
        /** Time allowed to receive a whole request. */
        requestTimeoutMs: Type.Integer({ minimum: 100 }),
        /** Idle keep-alive connections are closed after this many ms. */
        keepAliveTimeoutMs: Type.Integer({ minimum: 100 }),
        /**
         * Concurrent connections on the callback listener. Near it, idle connections are closed for
         * new ones (oldest first, those that never brought an authenticated callback first); with
         * none idle, a new connection is closed at once. Counted in
         * member_exit_audit_connections_closed_total.
         */
        maxConnections: Type.Integer({ minimum: 1 }),
        /**
         * Concurrent connections from one source address (trusted proxies, `trustProxy`, are
         * exempt): past it, that source's oldest idle connection is closed for the new one, or the
         * new one is refused. Keep it above what the IM backend opens from one address while the
         * service holds callbacks through a fault (about its rate times 2 s).
         */
        maxConnectionsPerSource: Type.Integer({ minimum: 1 }),
      },
      { additionalProperties: false },
    ),
    /** On SIGTERM, how long in-flight requests may take before the process exits anyway (exit 1). */
    shutdownGraceMs: Type.Integer({ minimum: 0, maximum: 600000 }),
    /** pino level of the operational log on stdout. */
    logLevel: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    ),
  },
  { additionalProperties: false },
);

export type AppConfig = Static<typeof App> & {
  /** Set by loadConfig: token files that did not exist. With no other token, `tokens` is [] (refuse all). */
  missingTokenFiles?: string[];
  /** Set by loadConfig with `readTokens: 'as-far-as-permitted'`: token files this user may not read (EACCES). */
  unreadableTokenFiles?: string[];
};
export type Config = Omit<Static<typeof ConfigSchema>, 'apps'> & { apps: AppConfig[] };
export const configSchema = ConfigSchema;
const CheckConfig = Compile(ConfigSchema);

/** Built-in values for everything config/default.json does not set. */
const BUILT_IN = {
  maxSkewSeconds: 60,
  trustProxy: [],
  admin: { host: '127.0.0.1', port: 9464 },
  // 64 MiB: a 100,000-member dismissal is ~36 MB of lines, handed to the writer at once.
  audit: { maxQueueBytes: 64 * 1024 * 1024, rotateCheckMs: 1000, checkEachBatch: true, chain: true, seal: { stateFile: 'var/seal/seal.state', required: false }, dedupWindowMs: 5 * 60 * 1000, dedupMaxIds: 100000, commands: {} },
  limits: {
    otherBodyBytes: 16 * 1024 * 1024,
    accountBytes: 64,
    groupIdBytes: 128,
    wordBytes: 32,
    clientIpBytes: 64,
    outputPerBodyByte: 32,
    // Tencent waits 2 s; a second more leaves room for the network and for clocks (issue #19).
    requestDeadlineMs: 3000,
    headersTimeoutMs: 10000,
    requestTimeoutMs: 15000,
    keepAliveTimeoutMs: 65000,
    maxConnections: 4096,
    maxConnectionsPerSource: 1024,
  },
  shutdownGraceMs: 10000,
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Objects merge key by key; anything else (arrays included) replaces. */
export function overlay(base: Json, top: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(top)) {
    const b = out[k];
    out[k] = isObject(b) && isObject(v) ? overlay(b, v) : v;
  }
  return out;
}

function readJson(path: string, what: string): Json {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    // Only where it broke: JSON.parse's own message quotes the text around the error, and a config
    // file holds tokens (issue #12: a malformed file printed part of one).
    throw new ConfigError(`${what} ${path} is not valid JSON${wherePos(text, (err as Error).message)}`);
  }
  if (!isObject(v)) throw new ConfigError(`${what} ${path} is not a JSON object: top level is not an object`);
  return v;
}

/**
 * ` (line L, column C)` where V8 says a position; else only a hint. Never V8's snippet of the text,
 * nor even the one unexpected character it names.
 */
function wherePos(text: string, message: string): string {
  const m = /position (\d+)/.exec(message);
  if (!m) return ` (find where with: jq . FILE)`;
  const before = text.slice(0, Number(m[1]));
  return ` (line ${before.split('\n').length}, column ${before.length - before.lastIndexOf('\n')})`;
}

const intOrText = (s: string): number | string => (/^[0-9]+$/.test(s) ? Number(s) : s);

/** The environment variables this service reads, laid over the file config. */
function fromEnv(env: NodeJS.ProcessEnv, base: Json): Json {
  const top: Json = {};
  const listen: Json = {};
  const audit: Json = {};
  if (env.HOST !== undefined) listen.host = env.HOST;
  if (env.PORT !== undefined) listen.port = intOrText(env.PORT);
  if (env.AUDIT_FILE !== undefined) audit.file = env.AUDIT_FILE;
  if (env.DURABILITY !== undefined) audit.durability = env.DURABILITY;
  if (env.SEAL_STATE_FILE !== undefined) audit.seal = { stateFile: env.SEAL_STATE_FILE };
  if (env.LOG_LEVEL !== undefined) top.logLevel = env.LOG_LEVEL;
  if (env.ADMIN_PORT !== undefined) top.admin = { port: intOrText(env.ADMIN_PORT) };
  if (Object.keys(listen).length) top.listen = listen;
  if (Object.keys(audit).length) top.audit = audit;
  let apps = base.apps;
  if (env.SDKAPPID !== undefined) {
    // Keep the settings of an app the file already names; a new one starts bare.
    const known = new Map(
      (Array.isArray(apps) ? apps : []).filter(isObject).map((a) => [String(a.sdkAppId), a]),
    );
    apps = env.SDKAPPID.split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((id) => known.get(id) ?? { sdkAppId: id });
  }
  if (env.CALLBACK_TOKEN !== undefined && Array.isArray(apps)) {
    const only = { token: env.CALLBACK_TOKEN, tokens: undefined, tokenFile: undefined, tokenFiles: undefined };
    apps = apps.map((a) => (isObject(a) ? { ...a, ...only } : a));
  }
  if (apps !== base.apps) top.apps = apps;
  return top;
}

export interface LoadOptions {
  /** `--config FILE`; else env MEMBER_EXIT_AUDIT_CONFIG. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** config/default.json; tests point it elsewhere. */
  defaultsFile?: string;
  /**
   * Read token files (default true). query and verify need no token and may not be allowed to read
   * one. `'as-far-as-permitted'` (check-config): a file this user may not read is listed in
   * `unreadableTokenFiles` instead of being a problem, since the service user may read it.
   */
  readTokens?: boolean | 'as-far-as-permitted';
}

/** Load, overlay, check and freeze the config. Throws ConfigError naming every problem. */
export function loadConfig(opts: LoadOptions = {}): Readonly<Config> {
  const env = opts.env ?? process.env;
  const defaultsFile = opts.defaultsFile ?? new URL('../config/default.json', import.meta.url).pathname;
  let merged = overlay(BUILT_IN, readJson(defaultsFile, 'defaults file'));
  const file = opts.file ?? env.MEMBER_EXIT_AUDIT_CONFIG;
  if (file) merged = overlay(merged, readJson(file, 'config file'));
  merged = overlay(merged, fromEnv(env, merged));
  if (Array.isArray(merged.apps)) merged.apps = merged.apps.map((a) => (isObject(a) ? stripUndefined(a) : a));
  const moved = movedKeys(merged);
  if (moved.length) throw new ConfigError(`invalid config:\n  - ${moved.join('\n  - ')}`);
  if (!CheckConfig.Check(merged)) {
    const problems = describeErrors(CheckConfig.Errors(merged), Infinity, ConfigSchema);
    throw new ConfigError(`invalid config:\n  - ${problems.join('\n  - ')}`);
  }
  const config = merged as Config;
  const problems: string[] = [];
  const ids = new Set<string>();
  config.apps.forEach((app, i) => {
    if (ids.has(app.sdkAppId)) problems.push(`/apps/${i}/sdkAppId: ${app.sdkAppId} is listed twice`);
    ids.add(app.sdkAppId);
    resolveTokens(app, `/apps/${i}`, problems, opts.readTokens ?? true);
  });
  for (const [key, list] of [['allowSources', config.allowSources], ['trustProxy', config.trustProxy]] as const) {
    try {
      if (list) cidrList(list);
    } catch (err) {
      problems.push(`/${key}: ${(err as Error).message}`);
    }
  }
  if (problems.length) throw new ConfigError(`invalid config:\n  - ${problems.join('\n  - ')}`);
  return deepFreeze(config);
}

/**
 * Gather an app's tokens (`token`, `tokens`, and every line of `tokenFile`/`tokenFiles`) into
 * `tokens`, so the rest of the service sees one shape: no tokens, or a list any of which signs.
 */
function resolveTokens(app: AppConfig, where: string, problems: string[], readFiles: NonNullable<LoadOptions['readTokens']>): void {
  const all = [...(app.token === undefined ? [] : [app.token]), ...(app.tokens ?? [])];
  const files = readFiles ? [...(app.tokenFile === undefined ? [] : [app.tokenFile]), ...(app.tokenFiles ?? [])] : [];
  const missing: string[] = [];
  const unreadable: string[] = [];
  for (const file of files) {
    const key = app.tokenFiles?.includes(file) ? 'tokenFiles' : 'tokenFile';
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') missing.push(file);
      else if ((code === 'EACCES' || code === 'EPERM') && readFiles === 'as-far-as-permitted') unreadable.push(file);
      else problems.push(`${where}/${key}: cannot read ${file}: ${code}`);
      continue;
    }
    const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
    if (!lines.length) problems.push(`${where}/${key}: ${file} is empty`);
    else if (lines.some((l) => l.length > 1024)) problems.push(`${where}/${key}: ${file} holds a line longer than 1024 characters`);
    all.push(...lines);
  }
  delete app.token;
  delete app.tokenFile;
  delete app.tokenFiles;
  if (all.length) app.tokens = [...new Set(all)];
  else if (missing.length || unreadable.length) app.tokens = []; // a token was meant to be there: refuse every callback until it is
  else delete app.tokens;
  if (missing.length) app.missingTokenFiles = missing;
  if (unreadable.length) app.unreadableTokenFiles = unreadable;
}

/** Keys of an older version, named with where they went rather than as merely unknown. */
function movedKeys(merged: Json): string[] {
  const limits = isObject(merged.limits) ? merged.limits : {};
  const to = (key: string) => `audit.commands["Group.CallbackAfterMemberExit"].${key}`;
  return [
    ...('bodyBytes' in limits ? [`/limits/bodyBytes: moved to ${to('bodyBytes')} (each audited command has its own)`] : []),
    ...('membersPerCallback' in limits ? [`/limits/membersPerCallback: moved to ${to('members')}`] : []),
    ...('stringChars' in limits ? ['/limits/stringChars: replaced by limits.accountBytes, groupIdBytes, wordBytes and clientIpBytes (bytes of UTF-8)'] : []),
  ];
}

function stripUndefined(o: Json): Json {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
