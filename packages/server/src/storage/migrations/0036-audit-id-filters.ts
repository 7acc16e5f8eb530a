import type { Kysely } from 'kysely';
import type { MigrationFor } from './index.js';

/**
 * `GET /api/audit_events?target_id=…` or `?actor_id=…` without the matching `*_type`: the
 * (workspace_id, target_type, target_id, id) and (workspace_id, actor_type, actor_id, id) indexes
 * cannot serve them (their second column is not given), so each page walked the workspace's whole
 * log backwards from its newest event and read every row: 60 ms for 200,000 events on SQLite,
 * holding the event loop that answers the checks, and in proportion to the log after that. These
 * two make such a page an index range in `id` order, whatever the log's size (docs/performance.md,
 * "Nineteenth round").
 */
export const auditIdFiltersMigration: MigrationFor = () => ({
  // Kysely<any> is the documented type for migrations: they must not depend on today's row types.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async up(db: Kysely<any>) {
    await db.schema
      .createIndex('audit_events_workspace_target_id')
      .on('audit_events')
      .columns(['workspace_id', 'target_id', 'id'])
      .execute();
    await db.schema
      .createIndex('audit_events_workspace_actor_id')
      .on('audit_events')
      .columns(['workspace_id', 'actor_id', 'id'])
      .execute();
  },
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async down(db: Kysely<any>) {
    await db.schema.dropIndex('audit_events_workspace_actor_id').execute();
    await db.schema.dropIndex('audit_events_workspace_target_id').execute();
  },
});
