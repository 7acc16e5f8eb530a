import type { Kysely } from 'kysely';
import type { MigrationFor } from './index.js';

/**
 * `GET /api/audit_events?since=…` or `?until=…` (and the CSV export with them): no index had the
 * event's time after the workspace, so a window was found by walking the workspace's log
 * backwards from its newest event and reading every row's time: a poller's `since` its last poll
 * with nothing new walked the whole log (61 ms for 200,000 events on SQLite, on the main thread
 * that answers the checks), and in proportion to the log after that. With this index the list
 * counts the window first and, when it is small, reads its events through the index
 * (audit.repository.ts, `SMALL_WINDOW_EVENTS`; docs/performance.md, "Twenty-second round").
 */
export const auditTimeIndexMigration: MigrationFor = () => ({
  // Kysely<any> is the documented type for migrations: they must not depend on today's row types.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async up(db: Kysely<any>) {
    await db.schema
      .createIndex('audit_events_workspace_created_id')
      .on('audit_events')
      .columns(['workspace_id', 'created_at', 'id'])
      .execute();
  },
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async down(db: Kysely<any>) {
    await db.schema.dropIndex('audit_events_workspace_created_id').execute();
  },
});
