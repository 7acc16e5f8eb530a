import { sql, type Kysely } from 'kysely';
import type { MigrationFor } from './index.js';

/**
 * PostgreSQL: the change notification says which audit events it announces (`first-last`, the
 * lowest and highest ID the statement inserted), so an instance skips the notification of a
 * change it has already read. Every write request reads the change log right after its commit
 * (modules/audit/change-feed.ts, afterWrite); with migration 0023's empty payload, the NOTIFY of
 * that same commit then made the instance read the log a second time, finding nothing: one more
 * statement per write on the database and on the server's main thread. Instances of an earlier
 * version ignore the payload (any notification makes them read); a notification without one (a
 * statement that inserted no row) is read as before.
 *
 * The channel name is written here, not imported: a migration must not change when the code does.
 * SQLite runs one instance and has nothing to notify: the migration does nothing there.
 */
export const changeNotifyIdsMigration: MigrationFor = (dialect) => ({
  // Kysely<any> is the documented type for migrations: they must not depend on today's row types.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async up(db: Kysely<any>) {
    if (dialect !== 'postgres') return;
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
    await sql`drop trigger if exists audit_events_notify on audit_events`.execute(db);
    await sql`
      create trigger audit_events_notify after insert on audit_events
      referencing new table as inserted_events
      for each statement execute function roster_notify_change()`.execute(db);
  },
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async down(db: Kysely<any>) {
    if (dialect !== 'postgres') return;
    // Back to migration 0023's trigger: an empty payload, every notification read.
    await sql`drop trigger if exists audit_events_notify on audit_events`.execute(db);
    await sql`
      create or replace function roster_notify_change() returns trigger language plpgsql as $$
      begin
        perform pg_notify('roster_changes', '');
        return null;
      end
      $$`.execute(db);
    await sql`
      create trigger audit_events_notify after insert on audit_events
      for each statement execute function roster_notify_change()`.execute(db);
  },
});
