import type { Kysely } from 'kysely';
import type { MigrationFor } from './index.js';

/**
 * Takes back migration 0036's (workspace_id, actor_id, id). On PostgreSQL before a table's first
 * ANALYZE (a new database's first minutes, and a prepared statement keeps the plan it made then),
 * a member's last activity (audit.repository.ts findLastActivities, on every collaborators page)
 * was planned on it, filtering actor_type, instead of on the actor index's full key: a member
 * whose ID an API client shares would have that client's events walked (the mixed load's admin
 * client is actor 1). A filter by an actor's ID alone stays a walk of the log; with its
 * `actor_type`, it is an index search. The target's index of 0036 stays: no hot lookup keys on a
 * target's type and ID both (tests/api/selective-lookup-indexes.test.ts checks the plans).
 */
export const auditActorIdIndexDroppedMigration: MigrationFor = () => ({
  // Kysely<any> is the documented type for migrations: they must not depend on today's row types.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async up(db: Kysely<any>) {
    await db.schema.dropIndex('audit_events_workspace_actor_id').ifExists().execute();
  },
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async down(db: Kysely<any>) {
    await db.schema
      .createIndex('audit_events_workspace_actor_id')
      .on('audit_events')
      .columns(['workspace_id', 'actor_id', 'id'])
      .execute();
  },
});
