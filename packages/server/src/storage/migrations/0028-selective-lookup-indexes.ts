import type { Kysely } from 'kysely';
import type { MigrationFor } from './index.js';

/**
 * Lookups that filter by `workspace_id` and by a selective column, for which SQLite chose the
 * single-column workspace index of migration 0012 and so walked every row of the workspace: SQLite
 * keeps no statistics here (no ANALYZE), so to its planner one equality on `workspace_id` looks
 * as selective as one on `member_id` or `project_id`. A composite index whose second column is the
 * selective one wins on both equalities, on any data. Found under the mixed load (bench/mixed.mjs,
 * docs/performance.md "Under mixed load"), where these made SQLite's CPU per request grow with
 * the data:
 * - a collaborator's SCIM suspensions (decisions.repository.ts `loadSuspensions`, run on every
 *   collaborator change's index reload): read every SCIM user of the workspace, end users too;
 * - a project's grants (the grant list and its count): read every grant of the workspace.
 * `scim_users_workspace_idx` (workspace_id) is the new index's prefix: dropped, it would only cost
 * writes.
 */
export const selectiveLookupIndexesMigration: MigrationFor = () => ({
  // Kysely<any> is the documented type for migrations: they must not depend on today's row types.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async up(db: Kysely<any>) {
    await db.schema
      .createIndex('scim_users_workspace_member_idx')
      .on('scim_users')
      .columns(['workspace_id', 'member_id'])
      .execute();
    await db.schema.dropIndex('scim_users_workspace_idx').execute();
    await db.schema
      .createIndex('project_grants_workspace_project_idx')
      .on('project_grants')
      .columns(['workspace_id', 'project_id'])
      .execute();
  },
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async down(db: Kysely<any>) {
    await db.schema.dropIndex('project_grants_workspace_project_idx').execute();
    await db.schema
      .createIndex('scim_users_workspace_idx')
      .on('scim_users')
      .column('workspace_id')
      .execute();
    await db.schema.dropIndex('scim_users_workspace_member_idx').execute();
  },
});
