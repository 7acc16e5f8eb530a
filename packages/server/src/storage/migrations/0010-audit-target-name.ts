import type { Kysely } from 'kysely';
import type { MigrationFor } from './index.js';

/**
 * `audit_events.target_name`: what the target was called when the event was written, so the log
 * reads "Ada Lovelace" rather than "end_user 12", and keeps reading so after a rename or delete
 * (the name at write time is the honest one for a log). Events written before this migration have
 * none (null): their snapshots are left as they were.
 */
export const auditTargetNameMigration: MigrationFor = () => ({
  // Kysely<any> is the documented type for migrations: they must not depend on today's row types.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async up(db: Kysely<any>) {
    await db.schema.alterTable('audit_events').addColumn('target_name', 'text').execute();
  },
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async down(db: Kysely<any>) {
    await db.schema.alterTable('audit_events').dropColumn('target_name').execute();
  },
});
