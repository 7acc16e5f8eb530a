/**
 * Configuration from environment variables, each documented in README.md. This is the one module
 * that reads them: everything else receives its settings from Config, so a test builds the whole
 * server from one `loadConfig({...})`. Invalid values stop the server at start with a message
 * naming the variable.
 */
import { isIP } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Which proxies may say who the client is (X-Forwarded-For), as Fastify's `trustProxy` takes it:
 * `false` (nobody: the client is the TCP peer), `true` (every hop), a number of hops, or addresses
 * and CIDR ranges (and proxy-addr's names `loopback`, `linklocal`, `uniquelocal`).
 */
export type TrustProxy = boolean | number | string[];

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** `postgres://…`, or the SQLite file path. */
  databaseUrl: string;
  /** ROSTER_SQLITE_WRITER: where a SQLite file's writes run (storage/connect.ts). */
  sqliteWriter: 'thread' | 'main';
  /** ROSTER_POSTGRES_DRIVER: which thread runs the PostgreSQL driver (storage/connect.ts). */
  postgresDriver: 'thread' | 'main';
  /** ROSTER_STORE_THREAD_HEAP_MB: the store's worker threads' heap cap, 0 = Node's (connect.ts). */
  storeThreadHeapMb: number;
  /**
   * ROSTER_STORE_THREAD_NICE: how much lower those threads' priority is; unset: each thread's
   * default (storage/store-threads.ts).
   */
  storeThreadNice: number | undefined;
  /**
   * ROSTER_HEAP_SLACK_MB: how far the main thread's old generation may grow past what the last
   * full collection left alive before the next starts; 0 leaves it to V8 (lib/heap-tuning.ts).
   */
  heapSlackMb: number;
  publicUrl: string;
  adminToken: string | undefined;
  platformToken: string | undefined;
  rateLimitPerMinute: number;
  /**
   * ROSTER_LEAN_CHECKS (default true): serve POST /api/access/check below Fastify when the rate
   * limit is off and the instance is not in a cluster (http/lean-path.ts).
   */
  leanChecks: boolean;
  inviteCooldownSeconds: number;
  smtpUrl: string | undefined;
  mailFrom: string;
  logLevel: string;
  /** Off unless configured: otherwise any client could pick its own IP for the per-IP limits. */
  trustProxy: TrustProxy;
  /**
   * How often each instance reads the change log as a safety net for missed notifications, in ms
   * (0: never; notifications alone on PostgreSQL, writes of this instance only on SQLite).
   */
  changePollMs: number;
  /**
   * ROSTER_SECRET_KEY: the master key of secrets stored encrypted (OIDC client secrets); unset, the
   * key file in the data directory (lib/secret-box.ts).
   */
  secretKey: string | undefined;
  /** ROSTER_APPROVAL_TTL_MINUTES: how long an approval request waits for its approvers. */
  approvalTtlMinutes: number;
  /** The access index's loaded workspaces (docs/operations.md, "Many workspaces"). */
  index: IndexConfig;
  /**
   * ROSTER_MCP_UPSTREAM_TIMEOUT_MS: how long the MCP gateway waits for an upstream MCP server
   * (connecting, and each request) before it answers the client an error (docs/agents.md).
   */
  mcpUpstreamTimeoutMs: number;
  /**
   * ROSTER_OAUTH_ACCESS_TOKEN_TTL_SECONDS: how long an access token Roster issues to an
   * interactive MCP client is valid (docs/agents.md); the client refreshes it after that.
   */
  oauthAccessTokenTtlSeconds: number;
  /** Several instances on one PostgreSQL database (docs/operations.md, "Several instances"). */
  cluster: ClusterConfig;
  console: ConsoleConfig;
  webhooks: WebhookConfig;
  /** ROSTER_METRICS_TOKEN: when set, /metrics wants it as a bearer token. */
  metricsToken: string | undefined;
}

export interface ClusterConfig {
  /**
   * ROSTER_INSTANCE_URL: where the other instances reach this one; unset, the instance takes no
   * part in the cluster and answers every workspace itself.
   */
  instanceUrl: string | undefined;
  /** ROSTER_CLUSTER_HEARTBEAT_MS: how often the instance renews its row and reads the others'. */
  heartbeatMs: number;
  /** ROSTER_CLUSTER_LEASE_MS: an instance whose heartbeat is older than this has left. */
  leaseMs: number;
  /** ROSTER_FORWARD_TIMEOUT_MS: how long a forwarded decision waits for its home. */
  forwardTimeoutMs: number;
}

export interface IndexConfig {
  /** ROSTER_INDEX_MEMORY_MB: the budget of loaded workspaces, in MB; 0: a third of the V8 heap left at start (app.ts). */
  memoryMb: number;
  /** ROSTER_INDEX_LOAD_WAIT_MS: how long a request waits for its workspace's load before a 503. */
  loadWaitMs: number;
  /** ROSTER_INDEX_WARM: load workspaces in the background at start, until the budget is nearly full. */
  warmAtStart: boolean;
}

/** Webhook delivery (modules/webhooks, docs/integration.md#webhooks). */
export interface WebhookConfig {
  /** ROSTER_WEBHOOK_ALLOW_PRIVATE: webhook URLs may reach loopback, link-local and private addresses. */
  allowPrivate: boolean;
  /** ROSTER_WEBHOOK_TIMEOUT_MS: one attempt, connection included. */
  timeoutMs: number;
  /** ROSTER_WEBHOOK_RETRY_SCHEDULE: seconds before each retry (its length: the number of retries). */
  retrySchedule: number[];
  /** ROSTER_WEBHOOK_DISABLE_AFTER: deliveries in a row that failed every attempt disable the endpoint. */
  disableAfter: number;
}

/**
 * The Standard Webhooks schedule after the first attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
 * 10 h (8 attempts over about 27 hours).
 */
export const DEFAULT_WEBHOOK_RETRY_SCHEDULE = [5, 300, 1800, 7200, 18000, 36000, 36000];

/** The admin console's settings. */
export interface ConsoleConfig {
  /** First start: this collaborator is created with Admin in every environment. */
  adminEmail: string | undefined;
  adminPassword: string | undefined;
  /** The built console (index.html and assets/). */
  staticDir: string;
  sessionTtlSeconds: number;
  /** Failed or not, sign-in attempts allowed per email and per client IP in the window. */
  loginAttemptsPerEmail: number;
  loginAttemptsPerIp: number;
  loginWindowSeconds: number;
}

/** packages/server/{src,dist} → packages/console/dist, from source and from the build alike. */
const DEFAULT_CONSOLE_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../console/dist',
);

function integer(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  return optionalInteger(env, name, min, max) ?? fallback;
}

/** A whole number from `min` to `max`, or undefined when the variable is unset or empty. */
function optionalInteger(
  env: NodeJS.ProcessEnv,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

const optional = (value: string | undefined) =>
  value === undefined || value === '' ? undefined : value;

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** An IP address, a CIDR range (`10.0.0.0/8`, `fd00::/8`) or one of proxy-addr's names. */
function isProxyAddress(entry: string): boolean {
  if (PROXY_NAMES.has(entry) || isIP(entry) !== 0) return true;
  const match = /^([^/]+)\/(\d{1,3})$/.exec(entry);
  if (match?.[1] === undefined || match[2] === undefined) return false;
  const version = isIP(match[1]);
  const bits = Number(match[2]);
  return (version === 4 && bits <= 32) || (version === 6 && bits <= 128);
}

function trustProxy(env: NodeJS.ProcessEnv): TrustProxy {
  const raw = optional(env.ROSTER_TRUST_PROXY?.trim());
  if (raw === undefined || raw === 'false' || raw === '0') return false;
  if (raw === 'true') return true;
  if (/^\d+$/.test(raw)) {
    const hops = Number(raw);
    if (hops <= 100) return hops;
  } else {
    const entries = raw.split(',').map((entry) => entry.trim());
    if (entries.every(isProxyAddress)) return entries;
  }
  throw new Error(
    `ROSTER_TRUST_PROXY must be true, false, a number of proxy hops (1 to 100), or a comma-separated list of IP addresses or CIDR ranges, got "${raw}"`,
  );
}

/**
 * The `trustProxy` option for Fastify. A hop count becomes a function trusting the nearest `hops`
 * peers, as Express reads a number: Fastify 5 treats a bare number as trusting nobody, because it
 * cannot tell a proxy from a client that sends enough hops; README says to use a count only when
 * Roster is reachable through those proxies alone.
 */
export function fastifyTrustProxy(
  value: TrustProxy,
): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof value !== 'number') return value;
  return (_address, hop) => hop < value;
}

function loadConsoleConfig(env: NodeJS.ProcessEnv): ConsoleConfig {
  const adminEmail = optional(env.ROSTER_ADMIN_EMAIL);
  const adminPassword = optional(env.ROSTER_ADMIN_PASSWORD);
  if ((adminEmail === undefined) !== (adminPassword === undefined)) {
    throw new Error('ROSTER_ADMIN_EMAIL and ROSTER_ADMIN_PASSWORD must be set together');
  }
  if (adminEmail !== undefined && !/^[^\s@]+@[^\s@]+$/.test(adminEmail)) {
    throw new Error(`ROSTER_ADMIN_EMAIL must be an email address, got "${adminEmail}"`);
  }
  if (adminPassword !== undefined && adminPassword.length < 10) {
    throw new Error('ROSTER_ADMIN_PASSWORD must be at least 10 characters');
  }
  return {
    adminEmail,
    adminPassword,
    staticDir: path.resolve(optional(env.ROSTER_CONSOLE_DIR) ?? DEFAULT_CONSOLE_DIR),
    sessionTtlSeconds: integer(
      env,
      'ROSTER_SESSION_TTL_SECONDS',
      12 * 60 * 60,
      60,
      30 * 24 * 60 * 60,
    ),
    loginAttemptsPerEmail: integer(env, 'ROSTER_LOGIN_ATTEMPTS_PER_EMAIL', 10, 0, 1_000_000),
    loginAttemptsPerIp: integer(env, 'ROSTER_LOGIN_ATTEMPTS_PER_IP', 50, 0, 1_000_000),
    loginWindowSeconds: 15 * 60,
  };
}

/** ROSTER_HEAP_SLACK_MB's default (docs/performance.md, seventeenth round). */
export const DEFAULT_HEAP_SLACK_MB = 64;

/** A size in MB, fractions allowed (a test budget of 0.05 MB holds one small workspace); 0 when unset. */
function megabytes(env: NodeJS.ProcessEnv, name: string): number {
  const raw = optional(env[name]?.trim());
  if (raw === undefined) return 0;
  const value = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw) || !Number.isFinite(value) || value > 1_048_576)
    throw new Error(`${name} must be a number of megabytes from 0 to 1048576, got "${raw}"`);
  return value;
}

function flag(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = optional(env[name]?.trim());
  if (raw === undefined) return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new Error(`${name} must be true or false, got "${raw}"`);
}

function secretKey(env: NodeJS.ProcessEnv): string | undefined {
  const key = optional(env.ROSTER_SECRET_KEY);
  if (key !== undefined && key.length < 32)
    throw new Error('ROSTER_SECRET_KEY must be at least 32 characters');
  return key;
}

function retrySchedule(env: NodeJS.ProcessEnv): number[] {
  const raw = optional(env.ROSTER_WEBHOOK_RETRY_SCHEDULE?.trim());
  if (raw === undefined) return [...DEFAULT_WEBHOOK_RETRY_SCHEDULE];
  const steps = raw.split(',').map((part) => Number(part.trim()));
  if (
    steps.length > 20 ||
    steps.some((step) => !Number.isFinite(step) || step <= 0 || step > 7 * 24 * 3600)
  ) {
    throw new Error(
      `ROSTER_WEBHOOK_RETRY_SCHEDULE must be up to 20 comma-separated delays in seconds (each above 0, at most a week), got "${raw}"`,
    );
  }
  return steps;
}

function webhookConfig(env: NodeJS.ProcessEnv): WebhookConfig {
  return {
    allowPrivate: flag(env, 'ROSTER_WEBHOOK_ALLOW_PRIVATE', false),
    timeoutMs: integer(env, 'ROSTER_WEBHOOK_TIMEOUT_MS', 10_000, 100, 120_000),
    retrySchedule: retrySchedule(env),
    disableAfter: integer(env, 'ROSTER_WEBHOOK_DISABLE_AFTER', 5, 1, 1_000_000),
  };
}

function clusterConfig(
  env: NodeJS.ProcessEnv,
  databaseUrl: string,
  key: string | undefined,
): ClusterConfig {
  const instanceUrl = optional(env.ROSTER_INSTANCE_URL?.trim());
  const heartbeatMs = integer(env, 'ROSTER_CLUSTER_HEARTBEAT_MS', 2_000, 50, 60_000);
  const leaseMs = integer(env, 'ROSTER_CLUSTER_LEASE_MS', 10_000, 100, 600_000);
  const forwardTimeoutMs = integer(env, 'ROSTER_FORWARD_TIMEOUT_MS', 500, 10, 60_000);
  if (instanceUrl !== undefined) {
    let parsed: URL;
    try {
      parsed = new URL(instanceUrl);
    } catch {
      throw new Error(`ROSTER_INSTANCE_URL must be an absolute URL, got "${instanceUrl}"`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
      throw new Error(`ROSTER_INSTANCE_URL must be an http or https URL, got "${instanceUrl}"`);
    if (!/^postgres(ql)?:\/\//.test(databaseUrl))
      throw new Error('ROSTER_INSTANCE_URL needs PostgreSQL: a SQLite deployment is one instance');
    // The forwarding hop is signed with a key every instance shares (modules/cluster).
    if (key === undefined)
      throw new Error('ROSTER_INSTANCE_URL needs ROSTER_SECRET_KEY, the same on every instance');
    if (leaseMs < 2 * heartbeatMs)
      throw new Error('ROSTER_CLUSTER_LEASE_MS must be at least twice ROSTER_CLUSTER_HEARTBEAT_MS');
  }
  return {
    instanceUrl: instanceUrl?.replace(/\/+$/, ''),
    heartbeatMs,
    leaseMs,
    forwardTimeoutMs,
  };
}

function threadOrMain(env: NodeJS.ProcessEnv, name: string): 'thread' | 'main' {
  const value = optional(env[name])?.trim() ?? 'thread';
  if (value !== 'thread' && value !== 'main')
    throw new Error(`${name} must be "thread" or "main", got "${value}"`);
  return value;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = integer(env, 'PORT', 8080, 0, 65535);
  const host = optional(env.HOST) ?? '127.0.0.1';
  const dataDir = path.resolve(optional(env.ROSTER_DATA_DIR) ?? './data');
  const adminToken = optional(env.ROSTER_ADMIN_TOKEN);
  if (adminToken !== undefined && adminToken.length < 16)
    throw new Error('ROSTER_ADMIN_TOKEN must be at least 16 characters');
  const platformToken = optional(env.ROSTER_PLATFORM_TOKEN);
  if (platformToken !== undefined && platformToken.length < 16) {
    throw new Error('ROSTER_PLATFORM_TOKEN must be at least 16 characters');
  }
  const publicUrl =
    optional(env.ROSTER_PUBLIC_URL) ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  try {
    new URL(publicUrl);
  } catch {
    throw new Error(`ROSTER_PUBLIC_URL must be an absolute URL, got "${publicUrl}"`);
  }
  const databaseUrl = optional(env.ROSTER_DATABASE_URL) ?? path.join(dataDir, 'roster.sqlite');
  const key = secretKey(env);
  return {
    port,
    host,
    dataDir,
    databaseUrl,
    sqliteWriter: threadOrMain(env, 'ROSTER_SQLITE_WRITER'),
    postgresDriver: threadOrMain(env, 'ROSTER_POSTGRES_DRIVER'),
    storeThreadHeapMb: integer(env, 'ROSTER_STORE_THREAD_HEAP_MB', 0, 0, 1_000_000),
    storeThreadNice: optionalInteger(env, 'ROSTER_STORE_THREAD_NICE', 0, 19),
    heapSlackMb: integer(env, 'ROSTER_HEAP_SLACK_MB', DEFAULT_HEAP_SLACK_MB, 0, 65_536),
    publicUrl,
    adminToken,
    platformToken,
    rateLimitPerMinute: integer(env, 'ROSTER_RATE_LIMIT_PER_MINUTE', 60, 0, 1_000_000),
    leanChecks: flag(env, 'ROSTER_LEAN_CHECKS', true),
    inviteCooldownSeconds: integer(env, 'ROSTER_INVITE_COOLDOWN_SECONDS', 1200, 0, 31_536_000),
    smtpUrl: optional(env.ROSTER_SMTP_URL),
    mailFrom: optional(env.ROSTER_MAIL_FROM) ?? 'Roster <roster@localhost>',
    logLevel: optional(env.ROSTER_LOG_LEVEL) ?? 'info',
    trustProxy: trustProxy(env),
    changePollMs: integer(env, 'ROSTER_CHANGE_POLL_MS', 1_000, 0, 3_600_000),
    secretKey: key,
    approvalTtlMinutes: integer(env, 'ROSTER_APPROVAL_TTL_MINUTES', 24 * 60, 1, 30 * 24 * 60),
    index: {
      memoryMb: megabytes(env, 'ROSTER_INDEX_MEMORY_MB'),
      loadWaitMs: integer(env, 'ROSTER_INDEX_LOAD_WAIT_MS', 2_000, 1, 600_000),
      warmAtStart: flag(env, 'ROSTER_INDEX_WARM', true),
    },
    mcpUpstreamTimeoutMs: integer(env, 'ROSTER_MCP_UPSTREAM_TIMEOUT_MS', 30_000, 100, 600_000),
    oauthAccessTokenTtlSeconds: integer(
      env,
      'ROSTER_OAUTH_ACCESS_TOKEN_TTL_SECONDS',
      3600,
      1,
      24 * 60 * 60,
    ),
    cluster: clusterConfig(env, databaseUrl, key),
    console: loadConsoleConfig(env),
    webhooks: webhookConfig(env),
    metricsToken: optional(env.ROSTER_METRICS_TOKEN),
  };
}
