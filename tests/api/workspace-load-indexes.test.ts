/**
 * Every query that loads one workspace into the access index (decisions.repository.ts) finds its
 * rows through an index, not by reading the whole table: without one, loading W workspaces was
 * quadratic in W (issue 14; migration 0012). Checked with the database's own query plan, on the
 * schema the server migrates to: the plan must search an index by workspace_id. PostgreSQL would
 * scan its tiny test tables anyway, so there the plan is asked for with sequential scans disabled.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { testDialect } from '../helpers/database.js';
import { planOf } from '../helpers/query-plan.js';

/** The per-workspace loads, by table, as the repository filters (and orders) them. */
const LOADS: Record<string, string> = {
  environments: 'select id, type from environments where workspace_id = 1 order by id',
  legacy_roles: 'select id, name from legacy_roles where workspace_id = 1',
  legacy_role_projects:
    'select legacy_role_id, project_id from legacy_role_projects where workspace_id = 1',
  environment_roles: 'select id, name from environment_roles where workspace_id = 1',
  project_roles: 'select id, name, config from project_roles where workspace_id = 1',
  members: 'select id, email from members where workspace_id = 1',
  member_environment_roles: 'select member_id from member_environment_roles where workspace_id = 1',
  collaborator_groups: 'select id, name from collaborator_groups where workspace_id = 1',
  projects: 'select id, name from projects where workspace_id = 1',
  scim_users:
    'select member_id from scim_users where workspace_id = 1 and active = 0 and member_id is not null',
  group_memberships:
    'select id, group_id from group_memberships where workspace_id = 1 and member_id is not null and id > 0 order by id limit 5000',
  project_grants:
    "select id, project_id from project_grants where workspace_id = 1 and id > '' order by id limit 5000",
  end_users: 'select id, email from end_users where workspace_id = 1',
  end_user_environments:
    'select end_user_id, environment_id from end_user_environments where workspace_id = 1',
  end_user_groups: 'select id, name from end_user_groups where workspace_id = 1 order by id',
  end_user_group_members:
    'select group_id, end_user_id from end_user_group_members where workspace_id = 1',
  features: 'select id, name from features where workspace_id = 1',
  feature_grants: 'select id, feature_id from feature_grants where workspace_id = 1 order by id',
  policies: 'select id, name from policies where workspace_id = 1 order by id',
  policy_targets: 'select policy_id from policy_targets where workspace_id = 1 order by id',
};

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster();
});
afterAll(async () => {
  await cluster.close();
});

describe('loading one workspace', () => {
  for (const [table, query] of Object.entries(LOADS)) {
    it(`reads ${table} through an index on workspace_id`, async () => {
      const plan = await planOf(cluster, query);
      // The index is searched by workspace_id (a scan of another index, the primary key's in ID
      // order for instance, reads the whole table all the same).
      if (testDialect === 'sqlite')
        expect(plan).toMatch(
          new RegExp(`SEARCH ${table} USING (COVERING )?INDEX \\S+ \\(workspace_id=`),
        );
      else expect(plan).toMatch(/Index Cond: \(+[^\n]*workspace_id = /);
    });
  }
});
