import { sql, type Kysely } from 'kysely';
import type { MigrationFor } from './index.js';

/**
 * Security fixes to console SSO and SCIM (docs/sso.md "Console sign-in", docs/scim.md):
 *
 * - `sso_oidc_connections.console_sign_in`: console sign-in through the connection is opt-in.
 *   Existing connections get 0: an administrator turns it on explicitly.
 * - One SCIM connection per group: unique indexes on `scim_groups.collaborator_group_id` and
 *   `end_user_group_id`, so two connections adopting the same group at once cannot both link it
 *   (the services check first; the index settles the race). NULLs stay allowed many times in both
 *   dialects. Duplicate links a race may already have left are removed first, keeping the oldest.
 */
export const consoleSsoOptInMigration: MigrationFor = () => ({
  // Kysely<any> is the documented type for migrations: they must not depend on today's row types.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async up(db: Kysely<any>) {
    await db.schema
      .alterTable('sso_oidc_connections')
      .addColumn('console_sign_in', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    for (const column of ['collaborator_group_id', 'end_user_group_id']) {
      await sql`
        delete from scim_groups
        where ${sql.ref(column)} is not null
          and id not in (
            select min(id) from scim_groups where ${sql.ref(column)} is not null
            group by ${sql.ref(column)}
          )
      `.execute(db);
      await db.schema
        .createIndex(`scim_groups_${column}_unique`)
        .on('scim_groups')
        .column(column)
        .unique()
        .execute();
    }
  },
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async down(db: Kysely<any>) {
    await db.schema.dropIndex('scim_groups_end_user_group_id_unique').execute();
    await db.schema.dropIndex('scim_groups_collaborator_group_id_unique').execute();
    await db.schema.alterTable('sso_oidc_connections').dropColumn('console_sign_in').execute();
  },
});
