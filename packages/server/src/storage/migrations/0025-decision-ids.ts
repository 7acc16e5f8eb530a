import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { MigrationFor } from './index.js';

/**
 * An end-user decision forwarded to its workspace's home instance is named by the instance that
 * received it (modules/cluster/routing.ts). When the forward times out after the home received
 * it, both the home and the receiving instance (answering itself) decide it: the name, kept on
 * the decision's audit event under a unique key, lets only the first record it. Partial, so the
 * index holds only forwarded decisions, not every event of the log.
 */
export const decisionIdsMigration: MigrationFor = () => ({
  // Kysely<any> is the documented type for migrations: they must not depend on today's row types.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async up(db: Kysely<any>) {
    await db.schema.alterTable('audit_events').addColumn('decision_id', 'text').execute();
    await db.schema
      .createIndex('audit_events_decision_id_unique')
      .on('audit_events')
      .column('decision_id')
      .unique()
      .where(sql.ref('decision_id'), 'is not', null)
      .execute();
  },
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async down(db: Kysely<any>) {
    await db.schema.dropIndex('audit_events_decision_id_unique').execute();
    await db.schema.alterTable('audit_events').dropColumn('decision_id').execute();
  },
});
