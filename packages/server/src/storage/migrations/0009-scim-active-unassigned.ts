import type { Kysely } from 'kysely';
import type { MigrationFor } from './index.js';

/**
 * `scim_users.active_assigned`: whether the identity provider's resource has an `active` value.
 * A PATCH that removes `active` leaves it unassigned (RFC 7644 §3.5.2.2): the user is then active
 * (Roster's default, as for a user created without it) and the resource shows no `active` until
 * the provider sets one again. Existing users all had it assigned (1).
 */
export const scimActiveUnassignedMigration: MigrationFor = () => ({
  // Kysely<any> is the documented type for migrations: they must not depend on today's row types.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async up(db: Kysely<any>) {
    await db.schema
      .alterTable('scim_users')
      .addColumn('active_assigned', 'integer', (c) => c.notNull().defaultTo(1))
      .execute();
  },
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async down(db: Kysely<any>) {
    await db.schema.alterTable('scim_users').dropColumn('active_assigned').execute();
  },
});
