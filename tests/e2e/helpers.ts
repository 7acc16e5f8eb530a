/**
 * Helpers for the console's tests: a real Roster server (tests/helpers/roster.ts) with console
 * settings, a signed-in cookie session for HTTP tests, the console build, and a headless
 * Chromium (playwright-core driving Debian's /usr/bin/chromium) for the browser tests, with the
 * set-up the browser suites share (the bootstrap admin signed in, an MCP server an end user may
 * use) and their tear-down.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startUpstream, type Upstream } from '../helpers/mcp-upstream.js';
import {
  startRoster,
  type ApiResponse,
  type Roster,
  type RosterOptions,
} from '../helpers/roster.js';

export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CONSOLE_DIR = path.join(ROOT, 'packages/console');
/**
 * Where the browser tests put their screenshots: the tracked docs/screenshots (shown in README.md)
 * only when asked with UPDATE_SCREENSHOTS=1, so that a test run leaves the working tree clean.
 */
export const SCREENSHOT_DIR =
  process.env.UPDATE_SCREENSHOTS === '1'
    ? path.join(ROOT, 'docs/screenshots')
    : path.join(tmpdir(), 'roster-screenshots');

export const ADMIN_EMAIL = 'admin@example.com';
export const ADMIN_PASSWORD = 'correct horse battery';

type ConsoleEnv = Partial<
  Record<
    | 'ROSTER_ADMIN_EMAIL'
    | 'ROSTER_ADMIN_PASSWORD'
    | 'ROSTER_CONSOLE_DIR'
    | 'ROSTER_SESSION_TTL_SECONDS'
    | 'ROSTER_LOGIN_ATTEMPTS_PER_EMAIL'
    | 'ROSTER_LOGIN_ATTEMPTS_PER_IP',
    string
  >
>;

/** startRoster with the console's environment variables beside the others (config.ts reads them all). */
export async function startConsoleRoster(
  options: { console?: ConsoleEnv } & RosterOptions = {},
): Promise<Roster> {
  return startRoster({ env: { ...options.env, ...options.console } });
}

/** A browser-like client of one console session: its cookies, and its CSRF token on writes. */
export interface SessionClient {
  cookie: string;
  csrf: string;
  setCookies: string[];
  signIn: ApiResponse;
  request<T = any>(
    method: string,
    path: string,
    options?: { body?: unknown; csrf?: boolean | string },
  ): Promise<ApiResponse<T>>;
}

export async function signIn(
  roster: Roster,
  email: string,
  password: string,
): Promise<SessionClient> {
  const response = await roster.request('POST', '/api/console/session', {
    body: { email, password },
    token: null,
  });
  if (response.status !== 200)
    throw new Error(`sign-in failed: ${response.status} ${response.text}`);
  const setCookies = response.headers.getSetCookie();
  const cookie = setCookies.map((c) => c.split(';')[0]).join('; ');
  const csrf = response.body.data.csrf_token as string;
  return {
    cookie,
    csrf,
    setCookies,
    signIn: response,
    request(method, requestPath, opts = {}) {
      const headers: Record<string, string> = { cookie };
      const csrfValue = opts.csrf === undefined || opts.csrf === true ? csrf : opts.csrf;
      if (csrfValue !== false) headers['x-csrf-token'] = csrfValue;
      return roster.request(method, requestPath, { body: opts.body, token: null, headers });
    },
  };
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}

/** Builds the console with Vite unless dist/ is newer than every source file. */
export function buildConsole(): void {
  const index = path.join(CONSOLE_DIR, 'dist/index.html');
  const sources = Math.max(
    newestMtime(path.join(CONSOLE_DIR, 'src')),
    statSync(path.join(CONSOLE_DIR, 'index.html')).mtimeMs,
    statSync(path.join(CONSOLE_DIR, 'vite.config.ts')).mtimeMs,
  );
  if (existsSync(index) && statSync(index).mtimeMs > sources) return;
  const result = spawnSync('npm', ['run', 'build', '-w', 'packages/console'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (result.status !== 0)
    throw new Error(`console build failed:\n${result.stdout}\n${result.stderr}`);
}

/** Exactly the flags CI uses for Debian's Chromium, with a fresh profile each launch. */
export function chromiumArgs(userDataDir: string): string[] {
  return [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--no-first-run',
    `--user-data-dir=${userDataDir}`,
  ];
}

export function freshProfileDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'roster-chromium-'));
  return {
    dir,
    remove: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const requireFromHere = createRequire(import.meta.url);
let axeSource: string | undefined;

/** Serious and critical WCAG 2.1 A/AA violations axe-core finds on the page, one line each. */
export async function axeViolations(page: Page): Promise<string[]> {
  axeSource ??= readFileSync(requireFromHere.resolve('axe-core/axe.min.js'), 'utf8');
  await page.addScriptTag({ content: axeSource });
  return page.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: {
          run: (
            ctx: Document,
            options: object,
          ) => Promise<{
            violations: { id: string; impact: string; nodes: { target: string[] }[] }[];
          }>;
        };
      }
    ).axe;
    const result = await axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    });
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map(
        (v) =>
          `${v.id} (${v.impact}): ${v.nodes
            .map((n) => n.target.join(' '))
            .slice(0, 3)
            .join(', ')}`,
      );
  });
}

/**
 * Chromium as the console tests drive it: a fresh profile, a laptop viewport, light theme, and
 * CSP bypassed (axe-core is injected as an inline script, which the console's CSP rightly refuses).
 */
export async function launchConsoleBrowser(
  extraArgs: string[] = [],
): Promise<{ context: BrowserContext; page: Page; profile: { dir: string; remove(): void } }> {
  const profile = freshProfileDir();
  const context = await chromium.launchPersistentContext(profile.dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      ...chromiumArgs(profile.dir).filter((arg) => !arg.startsWith('--user-data-dir')),
      ...extraArgs,
    ],
    viewport: { width: 1366, height: 860 },
    colorScheme: 'light',
    bypassCSP: true,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(10_000);
  return { context, page, profile };
}

/** The console built, and a server whose bootstrap admin is ADMIN_EMAIL / ADMIN_PASSWORD. */
export function startConsoleWithAdmin(): Promise<Roster> {
  buildConsole();
  return startConsoleRoster({
    console: { ROSTER_ADMIN_EMAIL: ADMIN_EMAIL, ROSTER_ADMIN_PASSWORD: ADMIN_PASSWORD },
  });
}

/** Signs the bootstrap admin in on the console's sign-in page and waits for the dashboard. */
export async function signInAsAdmin(page: Page, roster: Roster): Promise<void> {
  await page.goto(`${roster.url}/sign-in`);
  await page.getByLabel('Email').fill(ADMIN_EMAIL);
  await page.getByLabel('Password').fill(ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
}

/**
 * An MCP server feature (dev) in front of an upstream of its own (tests/helpers/mcp-upstream.ts),
 * and an end user who may use it: what the agents' screens start from.
 */
export async function mcpFeatureWithUser(
  roster: Roster,
  names: { feature: string; user: string; email: string },
): Promise<{ upstream: Upstream; featureId: number; endUserId: number }> {
  const upstream = await startUpstream();
  const user = await roster.post('/api/end_users', {
    name: names.user,
    email: names.email,
    environment_types: ['dev'],
  });
  const mcp = await roster.post('/api/features', {
    environment_type: 'dev',
    kind: 'mcp_server',
    name: names.feature,
    upstream: { url: upstream.url },
  });
  if (user.status !== 201 || mcp.status !== 201)
    throw new Error(`set-up failed: ${user.status} ${mcp.status} ${mcp.text}`);
  const featureId = mcp.body.data.id as number;
  const endUserId = user.body.data.id as number;
  await roster.post(`/api/features/${featureId}/access`, { end_user_ids: [endUserId] });
  return { upstream, featureId, endUserId };
}

/**
 * A browser suite's tear-down: the browser and its profile, the server, the upstream. Each may be
 * missing (beforeAll failed before it was set).
 */
export async function closeBrowserSuite(opened: {
  context?: BrowserContext;
  profile?: { remove(): void };
  roster?: Roster;
  upstream?: Upstream;
}): Promise<void> {
  await opened.context?.close();
  opened.profile?.remove();
  await opened.roster?.close();
  await opened.upstream?.close();
}
