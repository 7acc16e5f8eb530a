/**
 * Configuration from environment variables, each documented in README.md. Invalid values stop
 * the server at start with a message naming the variable.
 */
import path from 'node:path';

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** `postgres://…`, or the SQLite file path. */
  databaseUrl: string;
  publicUrl: string;
  adminToken: string | undefined;
  platformToken: string | undefined;
  rateLimitPerMinute: number;
  inviteCooldownSeconds: number;
  smtpUrl: string | undefined;
  mailFrom: string;
  logLevel: string;
  /**
   * How often each instance reads the change log as a safety net for missed notifications, in ms
   * (0: never; notifications alone on PostgreSQL, writes of this instance only on SQLite).
   */
  changePollMs: number;
}

function integer(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

const optional = (value: string | undefined) =>
  value === undefined || value === '' ? undefined : value;

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
  return {
    port,
    host,
    dataDir,
    databaseUrl: optional(env.ROSTER_DATABASE_URL) ?? path.join(dataDir, 'roster.sqlite'),
    publicUrl,
    adminToken,
    platformToken,
    rateLimitPerMinute: integer(env, 'ROSTER_RATE_LIMIT_PER_MINUTE', 60, 0, 1_000_000),
    inviteCooldownSeconds: integer(env, 'ROSTER_INVITE_COOLDOWN_SECONDS', 1200, 0, 31_536_000),
    smtpUrl: optional(env.ROSTER_SMTP_URL),
    mailFrom: optional(env.ROSTER_MAIL_FROM) ?? 'Roster <roster@localhost>',
    logLevel: optional(env.ROSTER_LOG_LEVEL) ?? 'info',
    changePollMs: integer(env, 'ROSTER_CHANGE_POLL_MS', 1_000, 0, 3_600_000),
  };
}
