import type { Kysely } from 'kysely';
import type { MigrationFor } from './index.js';

/**
 * An index on `workspace_id` for every table the access index loads a workspace from
 * (decisions.repository.ts) that had none leading with it. Without them each workspace's load
 * scanned whole tables, so loading every workspace was quadratic in their number (issue 14).
 * Tables read a page at a time in ID order (memberships, grants) or ordered by ID (feature
 * grants, policy targets) get `(workspace_id, id)`, which serves both the filter and the order.
 */
const INDEXES: ReadonlyArray<[name: string, table: string, columns: string[]]> = [
  ['member_environment_roles_workspace_idx', 'member_environment_roles', ['workspace_id']],
  ['group_memberships_workspace_idx', 'group_memberships', ['workspace_id', 'id']],
  ['project_grants_workspace_idx', 'project_grants', ['workspace_id', 'id']],
  ['legacy_role_projects_workspace_idx', 'legacy_role_projects', ['workspace_id']],
  ['end_user_environments_workspace_idx', 'end_user_environments', ['workspace_id']],
  ['end_user_group_members_workspace_idx', 'end_user_group_members', ['workspace_id']],
  ['feature_grants_workspace_idx', 'feature_grants', ['workspace_id', 'id']],
  ['policy_targets_workspace_idx', 'policy_targets', ['workspace_id', 'id']],
  ['scim_users_workspace_idx', 'scim_users', ['workspace_id']],
];

export const workspaceLoadIndexesMigration: MigrationFor = () => ({
  // Kysely<any> is the documented type for migrations: they must not depend on today's row types.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async up(db: Kysely<any>) {
    for (const [name, table, columns] of INDEXES)
      await db.schema.createIndex(name).on(table).columns(columns).execute();
  },
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async down(db: Kysely<any>) {
    for (const [name] of INDEXES) await db.schema.dropIndex(name).execute();
  },
});
