import type { Kysely } from 'kysely';
import type { MigrationFor } from './index.js';

/**
 * Legacy roles' project access (docs/decisions.md "Legacy roles"): a legacy role applies to every
 * project of the environment where a collaborator holds it (`project_access` 'all', what every
 * existing role keeps), or, for a custom role, only to the projects it selects ('selected', the
 * rows of `legacy_role_projects`; deleting a project deletes its rows).
 */
export const legacyRoleProjectsMigration: MigrationFor = () => ({
  // Kysely<any> is the documented type for migrations: they must not depend on today's row types.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async up(db: Kysely<any>) {
    await db.schema
      .alterTable('legacy_roles')
      .addColumn('project_access', 'text', (c) => c.notNull().defaultTo('all'))
      .execute();
    await db.schema
      .createTable('legacy_role_projects')
      .addColumn('workspace_id', 'integer', (c) =>
        c.notNull().references('workspaces.id').onDelete('cascade'),
      )
      .addColumn('legacy_role_id', 'integer', (c) =>
        c.notNull().references('legacy_roles.id').onDelete('cascade'),
      )
      .addColumn('project_id', 'integer', (c) =>
        c.notNull().references('projects.id').onDelete('cascade'),
      )
      .addPrimaryKeyConstraint('legacy_role_projects_pk', ['legacy_role_id', 'project_id'])
      .execute();
    await db.schema
      .createIndex('legacy_role_projects_project_idx')
      .on('legacy_role_projects')
      .column('project_id')
      .execute();
  },
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async down(db: Kysely<any>) {
    await db.schema.dropTable('legacy_role_projects').execute();
    await db.schema.alterTable('legacy_roles').dropColumn('project_access').execute();
  },
});
