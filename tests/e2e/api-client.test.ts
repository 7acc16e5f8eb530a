/**
 * The console's API client calls operations of the table in @roster/contracts (operations.ts), the
 * table the server's routes take their schemas from; here each is checked against the server's
 * OpenAPI document too, so an API change breaks this test, not a screen.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATIONS } from '@roster/contracts';
import type { Roster } from '../helpers/roster.js';
import { startConsoleRoster } from './helpers.js';

describe('the console API client', () => {
  let roster: Roster;
  beforeAll(async () => {
    roster = await startConsoleRoster();
  });
  afterAll(() => roster.close());

  it('calls only operations that the OpenAPI document lists, with the same method', async () => {
    const document = await roster.get('/api/openapi.json', null);
    expect(document.status).toBe(200);
    const paths = document.body.paths as Record<string, Record<string, unknown>>;
    const missing = Object.entries(OPERATIONS)
      .filter(([, { method, path }]) => paths[path]?.[method] === undefined)
      .map(([name, { method, path }]) => `${name}: ${method.toUpperCase()} ${path}`);
    expect(missing).toEqual([]);
    expect(Object.keys(OPERATIONS).length).toBeGreaterThan(70);
  });

  it('documents the console endpoints in the OpenAPI document under the Console tag', async () => {
    const document = await roster.get('/api/openapi.json', null);
    expect(document.body.paths['/api/console/session'].post.tags).toEqual(['Console']);
    expect(Object.keys(document.body.paths['/api/console/session']).sort()).toEqual([
      'delete',
      'get',
      'post',
    ]);
    expect(
      document.body.paths['/api/console/invitations/{token}/accept'].post.requestBody.content[
        'application/json'
      ].schema.required,
    ).toEqual(['name', 'password']);
  });
});
