/**
 * The API reference (`/api/docs`, Swagger UI) in Chromium under the Content-Security-Policy every
 * HTML page gets (packages/server/src/http/security-headers.ts): the policy is enforced here (the
 * console tests bypass it to inject axe-core), so a script or style it blocks breaks this test.
 */
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Roster } from '../helpers/roster.js';
import {
  CHROMIUM,
  chromiumArgs,
  freshProfileDir,
  hasChromium,
  startConsoleRoster,
} from './helpers.js';

it.skipIf(hasChromium)(
  `skips the browser tests: ${CHROMIUM} is not installed (apt-get install chromium)`,
  () => undefined,
);

describe.skipIf(!hasChromium)('the API reference in Chromium', () => {
  let roster: Roster;
  let context: BrowserContext | undefined;
  let profile: { dir: string; remove(): void } | undefined;

  beforeAll(async () => {
    roster = await startConsoleRoster();
    profile = freshProfileDir();
    context = await chromium.launchPersistentContext(profile.dir, {
      executablePath: CHROMIUM,
      headless: true,
      args: chromiumArgs(profile.dir).filter((arg) => !arg.startsWith('--user-data-dir')),
    });
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    profile?.remove();
    // beforeAll may have failed before setting it.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
    await roster?.close();
  });

  it('renders every operation of the OpenAPI document with the CSP enforced, and nothing is blocked', async () => {
    if (context === undefined) throw new Error('no browser');
    const page = context.pages()[0] ?? (await context.newPage());
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    const response = await page.goto(`${roster.url}/api/docs`);
    expect(response?.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
    await page.locator('.opblock').first().waitFor({ timeout: 30_000 });
    const operations = await page.locator('.opblock').count();
    const document = await roster.get('/api/openapi.json', null);
    const expected = Object.values(
      document.body.paths as Record<string, Record<string, unknown>>,
    ).reduce((sum, methods) => sum + Object.keys(methods).length, 0);
    expect(operations).toBe(expected);
    expect(problems.filter((text) => /Content Security Policy|Refused/i.test(text))).toEqual([]);
    expect(problems).toEqual([]);
  });
});
