import { sql, type Kysely } from 'kysely';
import type { MigrationFor } from './index.js';

/**
 * PostgreSQL: the audit log no longer notifies from inside the write's transaction; the instance
 * that committed a write announces it right after the commit (modules/audit/change-feed.ts,
 * `announce`). A transaction that has queued a NOTIFY takes, at COMMIT, one lock shared by every
 * database of the cluster (to keep the notification queue in commit order) and holds it until its
 * commit record is flushed to disk: every write transaction of every instance then committed one
 * after the other, each waiting for the previous one's WAL flush, and none could share a flush
 * with another (group commit). Under the mixed load on the 2-core bench machine the trigger cost
 * 11–14% of the backends' CPU a request and about a tenth of the capacity (docs/performance.md,
 * "Eighth round"). A NOTIFY sent by a statement of its own writes nothing to the WAL, so it holds
 * that lock only for the queue insert; an instance's announcements are coalesced (one in flight,
 * the next covering every event committed meanwhile), so under load they are far fewer than the
 * writes.
 *
 * Rolling upgrade: instances of an earlier version still running after this migration no longer
 * have their writes announced (the trigger did it for them); the others learn of those writes
 * from their poll (ROSTER_CHANGE_POLL_MS, 1 s) until the last old instance is replaced. They
 * still hear the new instances' announcements, which carry the same payload.
 *
 * SQLite runs one instance and has nothing to notify: the migration does nothing there.
 */
export const changeNotifyAfterCommitMigration: MigrationFor = (dialect) => ({
  // Kysely<any> is the documented type for migrations: they must not depend on today's row types.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async up(db: Kysely<any>) {
    if (dialect !== 'postgres') return;
    await sql`drop trigger if exists audit_events_notify on audit_events`.execute(db);
    await sql`drop function if exists roster_notify_change()`.execute(db);
  },
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async down(db: Kysely<any>) {
    if (dialect !== 'postgres') return;
    // Back to migration 0031's trigger (the channel name written out, as there).
    await sql`
      create or replace function roster_notify_change() returns trigger language plpgsql as $$
      declare
        first_id bigint;
        last_id bigint;
      begin
        select min(id), max(id) into first_id, last_id from inserted_events;
        perform pg_notify('roster_changes', coalesce(first_id || '-' || last_id, ''));
        return null;
      end
      $$`.execute(db);
    await sql`
      create trigger audit_events_notify after insert on audit_events
      referencing new table as inserted_events
      for each statement execute function roster_notify_change()`.execute(db);
  },
});
