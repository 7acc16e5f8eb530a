/**
 * Lookups that filter by workspace_id and by a selective column (a collaborator, a project) find
 * their rows through an index on both, not by walking every row of the workspace: on SQLite,
 * which keeps no statistics, the planner took the workspace index of migration 0012 for them, and
 * the server's CPU per request grew with the data under the mixed load (issue 14; migration
 * 0028; the audit log's filter by a target's ID alone: 0036). Checked with the database's own query plan on the schema the server migrates to, for
 * the queries as the repositories send them. PostgreSQL would scan its tiny test tables anyway,
 * so there the plan is asked for with sequential scans disabled.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { testDialect } from '../helpers/database.js';
import { planOf } from '../helpers/query-plan.js';

/** Each lookup, and the selective column its index must be searched by (besides workspace_id). */
const LOOKUPS: {
  name: string;
  table: string;
  column: string;
  query: string;
  /** planOf's option: the table given real pages on PostgreSQL (tests/helpers/query-plan.ts). */
  filled?: 'audit_events';
}[] = [
  {
    // decisions.repository.ts loadSuspensions, for one collaborator (every collaborator change).
    name: "a collaborator's SCIM suspensions",
    table: 'scim_users',
    column: 'member_id',
    query: `select scim_users.member_id, scim_connections.environment_id from scim_users
      inner join scim_connections on scim_connections.id = scim_users.connection_id
      where scim_users.workspace_id = 1 and scim_connections.target = 'collaborators'
      and scim_users.active = 0 and scim_users.member_id = 7`,
  },
  {
    // The project grant list's count (its page runs the same filter).
    name: "a project's grants",
    table: 'project_grants',
    column: 'project_id',
    query: `select count(*) as n from project_grants as g
      inner join projects as p on p.id = g.project_id
      inner join environments as e on e.id = p.environment_id
      where g.workspace_id = 1 and e.type in ('dev', 'prod') and g.project_id = 3`,
  },
  {
    // GET /api/audit_events?target_id=… without target_type (migration 0036): the
    // (workspace, target_type, target_id, id) index cannot serve it.
    name: "a target's audit events, whatever its type",
    table: 'audit_events',
    column: 'target_id',
    query: `select * from audit_events where workspace_id = 1 and target_id = '77'
      order by id desc limit 100 offset 0`,
  },
  {
    // A target's events by type and ID (a user's recent activity, the console's filters): an
    // index search by the target's ID, on a table PostgreSQL has no statistics of yet too. SQLite
    // searches the (workspace, target_type, target_id, id) index's full key; PostgreSQL before its
    // first ANALYZE may take 0036's (workspace, target_id, id) and filter the type (the events of
    // other targets with that ID), and the full key once it has statistics.
    name: "a target's audit events by type and ID",
    table: 'audit_events',
    column: 'target_id',
    query: `select * from audit_events where workspace_id = 1 and target_type = 'end_user'
      and target_id = '77' order by id desc limit 20 offset 0`,
    filled: 'audit_events',
  },
];

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster();
});
afterAll(async () => {
  await cluster.close();
});

describe('selective lookups within a workspace', () => {
  for (const { name, table, column, query, filled } of LOOKUPS) {
    it(`reads ${name} through an index on ${column}`, async () => {
      const plan = await planOf(cluster, query, filled === undefined ? {} : { filled });
      if (testDialect === 'sqlite')
        // Searched by the selective column, not by workspace_id alone (which reads the whole
        // workspace's rows and filters them).
        expect(plan).toMatch(
          new RegExp(`SEARCH \\w+ USING (COVERING )?INDEX \\S+ \\([^)\\n]*\\b${column}=`),
        );
      else expect(plan).toMatch(new RegExp(`Index Cond: [^\\n]*${column} = `));
      // The table in question is the one searched so (the alias in the plan for project_grants).
      expect(plan).toMatch(table === 'project_grants' ? /SEARCH g |project_grants/ : table);
    });
  }
});
