import type { Kysely } from 'kysely';
import type { MigrationFor } from './index.js';

/**
 * Indexes for reads that ran on every request of their kind and grew with the data (found under
 * the mixed load of bench/mixed.mjs, docs/performance.md "Under mixed load"):
 * - the collaborator list's order (`created_at`, `id`): without it each page sorted every
 *   collaborator of the workspace;
 * - audit events filtered by target or by action, newest first: without them each filtered page
 *   walked the workspace's whole log.
 */
export const writePathIndexesMigration: MigrationFor = () => ({
  // Kysely<any> is the documented type for migrations: they must not depend on today's row types.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async up(db: Kysely<any>) {
    await db.schema
      .createIndex('members_created_idx')
      .on('members')
      .columns(['workspace_id', 'created_at', 'id'])
      .execute();
    await db.schema
      .createIndex('audit_events_target_idx')
      .on('audit_events')
      .columns(['workspace_id', 'target_type', 'target_id', 'id'])
      .execute();
    await db.schema
      .createIndex('audit_events_action_idx')
      .on('audit_events')
      .columns(['workspace_id', 'action', 'id'])
      .execute();
  },
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async down(db: Kysely<any>) {
    await db.schema.dropIndex('audit_events_action_idx').execute();
    await db.schema.dropIndex('audit_events_target_idx').execute();
    await db.schema.dropIndex('members_created_idx').execute();
  },
});
