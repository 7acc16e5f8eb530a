import type { Kysely } from 'kysely';
import type { MigrationFor } from './index.js';

/**
 * SCIM provisioning of collaborators (docs/scim.md, "Roster (collaborators target)"):
 *
 * - the connection's default role is kept by ID (type + legacy or environment role), so renaming
 *   the role does not break provisioning; deleting it leaves the connection without a default
 *   (SCIM then refuses new users with a clear message until an admin sets another);
 * - collaborator groups say whether an identity provider manages them (`manual` | `external`),
 *   as end-user groups already do.
 */
export const scimCollaboratorsMigration: MigrationFor = () => ({
  // Kysely<any> is the documented type for migrations: they must not depend on today's row types.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async up(db: Kysely<any>) {
    await db.schema.alterTable('scim_connections').addColumn('default_role_type', 'text').execute();
    await db.schema
      .alterTable('scim_connections')
      .addColumn('default_legacy_role_id', 'integer', (c) =>
        c.references('legacy_roles.id').onDelete('set null'),
      )
      .execute();
    await db.schema
      .alterTable('scim_connections')
      .addColumn('default_environment_role_id', 'integer', (c) =>
        c.references('environment_roles.id').onDelete('set null'),
      )
      .execute();
    await db.schema
      .alterTable('collaborator_groups')
      .addColumn('managed_by', 'text', (c) => c.notNull().defaultTo('manual'))
      .execute();
  },
});
