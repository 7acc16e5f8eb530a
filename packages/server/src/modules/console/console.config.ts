/**
 * The console's settings, from environment variables documented in README.md (Configuration).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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

/** packages/server/{src,dist}/modules/console → packages/console/dist, from source and from the build alike. */
const DEFAULT_STATIC_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../../console/dist',
);

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

export function loadConsoleConfig(env: NodeJS.ProcessEnv = process.env): ConsoleConfig {
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
    staticDir: path.resolve(optional(env.ROSTER_CONSOLE_DIR) ?? DEFAULT_STATIC_DIR),
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
