/**
 * The audit log's two exports, in Chromium against a real server: "Export CSV" and "Export NDJSON"
 * are links to the server's streamed `GET /api/audit_events?format=…` with the screen's filters,
 * so each download holds exactly the events the JSON API pages through for the same filters, in
 * the same order and shape — past the 100 of one page, and nothing built in the browser.
 */
import { readFileSync } from 'node:fs';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Roster } from '../helpers/roster.js';
import {
  CHROMIUM,
  closeBrowserSuite,
  hasChromium,
  launchConsoleBrowser,
  signInAsAdmin,
  startConsoleWithAdmin,
} from './helpers.js';
import { parseCsv } from '../helpers/csv.js';

interface AuditEvent {
  id: number;
  created_at: string;
  action: string;
  actor: { type: string; id: string | null; name: string | null };
  target: { type: string; id: string | null; name: string | null };
  before: unknown;
  after: unknown;
}

it.skipIf(hasChromium)(
  `skips the browser tests: ${CHROMIUM} is not installed (apt-get install chromium)`,
  () => undefined,
);

describe.skipIf(!hasChromium)('the audit log exports CSV and NDJSON from the server', () => {
  let roster: Roster;
  let context: BrowserContext | undefined;
  let page: Page;
  let profile: { dir: string; remove(): void } | undefined;

  /** Every event the JSON API lists for these filters, page by page, newest first. */
  async function listAll(filters: string): Promise<AuditEvent[]> {
    const events: AuditEvent[] = [];
    for (let number = 1; ; number += 1) {
      const response = await roster.get(
        `/api/audit_events?${filters}&page[number]=${number}&page[size]=100`,
      );
      expect(response.status).toBe(200);
      const data = response.body.data as AuditEvent[];
      events.push(...data);
      if (data.length < 100) return events;
    }
  }

  /** Clicks an export link and returns the downloaded file's name and text. */
  async function download(name: string): Promise<{ filename: string; text: string }> {
    const downloaded = page.waitForEvent('download');
    await page.getByRole('link', { name }).click();
    const file = await downloaded;
    return { filename: file.suggestedFilename(), text: readFileSync(await file.path(), 'utf8') };
  }

  beforeAll(async () => {
    roster = await startConsoleWithAdmin();
    // More end users than one page holds, each with a lock, so the filtered export spans pages
    // and the unfiltered one mixes actions.
    for (let i = 0; i < 130; i += 1) {
      const created = await roster.post('/api/end_users', {
        name: i === 0 ? '=HYPERLINK("http://evil.example/","Click")' : `Exported ${i}`,
        email: `exported-${i}@example.com`,
        environment_types: ['dev'],
      });
      expect(created.status).toBe(201);
      if (i % 10 === 0)
        expect((await roster.post(`/api/end_users/${created.body.data.id}/lock`)).status).toBe(200);
    }
    ({ context, page, profile } = await launchConsoleBrowser());
    await signInAsAdmin(page, roster);
  }, 120_000);

  afterAll(() => closeBrowserSuite({ context, profile, roster }));

  it('downloads the filtered events as NDJSON and CSV, each equal to what the API lists', async () => {
    await page.goto(`${roster.url}/audit`);
    await page.getByRole('heading', { level: 1, name: 'Audit log' }).waitFor();
    await page.getByLabel('Action').fill('end_user.created');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page
      .getByRole('row', { name: /Exported 129/ })
      .first()
      .waitFor();

    const expected = await listAll('action=end_user.created');
    expect(expected).toHaveLength(130);

    const ndjson = await download('Export NDJSON');
    expect(ndjson.filename).toMatch(/^roster-audit-\d{4}-\d{2}-\d{2}\.ndjson$/);
    expect(ndjson.text.endsWith('\n')).toBe(true);
    const events = ndjson.text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as AuditEvent);
    expect(events).toEqual(expected);

    const csv = await download('Export CSV');
    expect(csv.filename).toMatch(/^roster-audit-\d{4}-\d{2}-\d{2}\.csv$/);
    const [header, ...rows] = parseCsv(csv.text);
    expect(header).toEqual([
      'id',
      'created_at',
      'action',
      'actor_type',
      'actor_id',
      'actor_name',
      'target_type',
      'target_id',
      'target_name',
      'before',
      'after',
    ]);
    expect(rows.map((r) => [r[0], r[2], r[7]])).toEqual(
      expected.map((e) => [String(e.id), e.action, e.target.id]),
    );
    // The formula-looking name is neutralised in the CSV, and kept as it is in the NDJSON.
    expect(rows.map((r) => r[8])).toContain(`'=HYPERLINK("http://evil.example/","Click")`);
    expect(events.map((e) => e.target.name)).toContain(
      '=HYPERLINK("http://evil.example/","Click")',
    );
  });

  it('downloads every event without filters as NDJSON, equal to what the API lists', async () => {
    await page.goto(`${roster.url}/audit`);
    await page.getByRole('heading', { level: 1, name: 'Audit log' }).waitFor();
    const expected = await listAll('');
    expect(expected.length).toBeGreaterThan(143);
    expect(expected.map((e) => e.action)).toEqual(
      expect.arrayContaining(['end_user.created', 'end_user.locked']),
    );
    const ndjson = await download('Export NDJSON');
    const events = ndjson.text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as AuditEvent);
    expect(events).toEqual(expected);
  });
});
