/**
 * Two Roster instances on one PostgreSQL database: a write on A reaches B's in-memory index
 * within one second (NOTIFY, with the poll as a safety net). docs/decisions.md states the bound.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { testDialect } from '../helpers/database.js';
import { createMember, type Roster } from '../helpers/roster.js';

const STALENESS_BOUND_MS = 1_000;

/** Asks until the answer is `expected`; throws when the bound passes first. */
async function waitForAnswer(
  instance: Roster,
  body: Record<string, unknown>,
  expected: boolean,
): Promise<number> {
  const started = Date.now();
  for (;;) {
    const res = await instance.post('/api/access/check', body);
    if (res.status === 200 && res.body.data.allowed === expected) return Date.now() - started;
    if (Date.now() - started > STALENESS_BOUND_MS) {
      throw new Error(
        `instance B still answered ${res.status} ${res.text} after ${STALENESS_BOUND_MS} ms`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe.skipIf(testDialect === 'sqlite')(
  'two instances on one PostgreSQL database (SQLite runs a single instance: skipped there)',
  () => {
    let cluster: Cluster;
    let a: Roster;
    let b: Roster;

    beforeAll(async () => {
      cluster = await startCluster({ instances: 2 });
      [a, b] = cluster.instances as [Roster, Roster];
    });
    afterAll(async () => {
      await cluster.close();
    });

    it('shows a grant written on instance A to a check on instance B within one second, and its removal too', async () => {
      const role = await a.post('/api/project_roles', {
        project_role: { name: 'Cluster runners', config: { recipe: { privileges: ['run'] } } },
      });
      const project = await a.post('/api/projects', {
        name: 'Cluster project',
        environment_type: 'dev',
      });
      // No access in DEV: a legacy role such as the default Analyst covers every DEV project.
      const person = await createMember(a, {
        email: 'cluster@example.com',
        env_roles: [{ environment_type: 'dev', name: 'No access' }],
      });
      const check = {
        subject: { member_id: person.id },
        project_id: project.body.data.id,
        resource: 'recipe',
        privilege: 'run',
      };
      await waitForAnswer(b, check, false);

      const granted = await a.put(`/api/projects/${project.body.data.id}/project_grants`, {
        project_grants: [
          {
            assignment_type: 'User',
            assignment_id: String(person.id),
            project_role_id: role.body.data.id,
          },
        ],
      });
      await waitForAnswer(b, check, true);
      const grantId = (await a.get(`/api/projects/${project.body.data.id}/project_grants`)).body
        .data[0].id;
      const removed = await a.delete(`/api/project_grants/${grantId}`);
      await waitForAnswer(b, check, false);

      expect(granted.status).toBe(200);
      expect(removed.status).toBeLessThan(300);
    });

    it('shows a group membership added on instance B to a check on instance A within one second', async () => {
      const role = await a.post('/api/project_roles', {
        project_role: { name: 'Cluster readers', config: { folder: { privileges: ['view'] } } },
      });
      const project = await a.post('/api/projects', {
        name: 'Cluster folders',
        environment_type: 'dev',
      });
      const group = await a.post('/api/user_groups', { user_group: { name: 'Cluster group' } });
      await a.put(`/api/projects/${project.body.data.id}/project_grants`, {
        project_grants: [
          {
            assignment_type: 'UserGroup',
            assignment_id: group.body.data.id,
            project_role_id: role.body.data.id,
          },
        ],
      });
      // No access in DEV: a legacy role such as the default Analyst covers every DEV project.
      const person = await createMember(a, {
        email: 'cluster-group@example.com',
        env_roles: [{ environment_type: 'dev', name: 'No access' }],
      });
      const check = {
        subject: { email: 'cluster-group@example.com' },
        project_id: project.body.data.id,
        resource: 'folder',
        privilege: 'view',
      };
      await waitForAnswer(b, check, false);

      const joined = await b.post(`/api/user_groups/${group.body.data.id}/members`, {
        user_ids: [person.id],
      });
      await waitForAnswer(a, check, true);

      expect(joined.status).toBeLessThan(300);
    });
    it('shows an end user locked on instance A to an end-user check on instance B within one second', async () => {
      const user = await a.post('/api/end_users', {
        name: 'Clustered',
        email: 'clustered@example.com',
        environment_types: ['dev'],
      });
      const feature = await a.post('/api/features', {
        environment_type: 'dev',
        kind: 'mcp_server',
        name: 'Cluster MCP',
      });
      await a.post(`/api/features/${feature.body.data.id}/access`, {
        end_user_ids: [user.body.data.id],
      });
      const check = {
        subject: { end_user_id: user.body.data.id },
        environment_type: 'dev',
        feature_id: feature.body.data.id,
      };
      await waitForAnswer(b, check, true);

      const locked = await a.post(`/api/end_users/${user.body.data.id}/lock`);
      await waitForAnswer(b, check, false);

      expect(locked.status).toBe(200);
    });

    it('refuses on instance B, within one second, a token revoked on instance A after B cached it', async () => {
      const client = await a.post('/api/api_clients', {
        name: 'Cluster client',
        environment_types: ['dev'],
      });
      const token = client.body.data.token as string;
      expect((await b.get('/api/api_clients', token)).status).toBe(200);

      const revoked = await a.delete(`/api/api_clients/${client.body.data.id}`);
      const started = Date.now();
      let status = 200;
      while (status !== 401 && Date.now() - started <= STALENESS_BOUND_MS) {
        status = (await b.get('/api/api_clients', token)).status;
        if (status !== 401) await new Promise((resolve) => setTimeout(resolve, 10));
      }

      expect(revoked.status).toBeLessThan(300);
      expect(status).toBe(401);
    });
  },
);
