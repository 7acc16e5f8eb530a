/**
 * The operations table (@roster/contracts operations.ts) and the server's routes agree: every
 * documented route is in the table with the table's schemas, and every operation has its route.
 * A failure lists, for each route, the table entry to add or the schema to take from the table.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RouteOptions } from 'fastify';
import { Type } from 'typebox';
import { DataOf, EndUser, IntegerIdParams, OPERATIONS } from '@roster/contracts';
import { operationTableProblems } from '../packages/server/src/http/operations.js';
import { startRoster, type Roster } from './helpers/roster.js';

describe('the operations table', () => {
  let roster: Roster;
  beforeAll(async () => {
    roster = await startRoster();
  });
  afterAll(() => roster.close());

  it('lists every documented route with the schemas the route validates with', () => {
    expect(operationTableProblems(roster.routes).join('\n\n')).toBe('');
    expect(Object.keys(OPERATIONS).length).toBeGreaterThanOrEqual(120);
  });

  it('is what the OpenAPI document lists: the same operations, methods and paths', async () => {
    const document = await roster.get('/api/openapi.json', null);
    const documented = Object.entries(document.body.paths as Record<string, object>)
      .flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method} ${path}`))
      .sort();
    const table = Object.values(OPERATIONS)
      .map((operation) => `${operation.method} ${operation.path}`)
      .sort();
    expect(documented).toEqual(table);
  });

  it('names the entry to add for a route the table does not list', () => {
    const route = {
      method: 'POST',
      url: '/api/agents/:id/tools',
      schema: {
        params: IntegerIdParams,
        body: Type.Object({ name: Type.String() }),
        response: { 201: DataOf(EndUser) },
      },
    } as unknown as RouteOptions;
    const [problem] = operationTableProblems([...roster.routes, route]);
    expect(problem).toContain(
      'POST /api/agents/{id}/tools is registered but not in the operations table',
    );
    expect(problem).toContain(
      "createAgentTool: { method: 'post', path: '/api/agents/{id}/tools', params: IntegerIdParams, body: /* schema as in the route: */ ",
    );
    expect(problem).toContain('response: { 201: DataOf(EndUser) } },');
    expect(problem).toContain("...schemaOf('createAgentTool')");
  });

  it('finds a route whose schema is not the table’s, and an operation with no route', () => {
    const drifted = roster.routes.map((route) =>
      route.url === '/api/end_users/:id' && route.method === 'GET'
        ? { ...route, schema: { ...route.schema, params: Type.Object({ id: Type.String() }) } }
        : route,
    );
    expect(operationTableProblems(drifted)).toEqual([
      expect.stringContaining(
        "GET /api/end_users/{id} (getEndUser): the route's params schema is not the table's",
      ),
    ]);
    const missing = roster.routes.filter((route) => route.url !== '/api/features/:id/access');
    expect(operationTableProblems(missing)).toEqual([
      expect.stringContaining(
        'listFeatureAccess (GET /api/features/{id}/access) is in the operations table but no route serves it',
      ),
      expect.stringContaining('grantFeatureAccess'),
      expect.stringContaining('revokeFeatureAccess'),
    ]);
  });
});
