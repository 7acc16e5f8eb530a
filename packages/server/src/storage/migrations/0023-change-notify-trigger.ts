import { sql, type Kysely } from 'kysely';
import type { MigrationFor } from './index.js';

/**
 * PostgreSQL: the audit log notifies the other instances itself. Every write records its audit
 * event in its own transaction; this trigger queues a NOTIFY on the change feed's channel in that
 * transaction, which PostgreSQL sends at COMMIT (one per transaction, however many events). Before
 * it, each write request sent `select pg_notify(...)` after its commit: one more round trip to the
 * database per write (modules/audit/change-feed.ts). A write that rolls back notifies nobody; a
 * write made outside a request (the gateway's batched tool-call records) now notifies too.
 *
 * The channel name is written here, not imported: a migration must not change when the code does.
 * SQLite runs one instance and has nothing to notify: the migration does nothing there.
 */
export const changeNotifyTriggerMigration: MigrationFor = (dialect) => ({
  // Kysely<any> is the documented type for migrations: they must not depend on today's row types.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async up(db: Kysely<any>) {
    if (dialect !== 'postgres') return;
    await sql`
      create function roster_notify_change() returns trigger language plpgsql as $$
      begin
        perform pg_notify('roster_changes', '');
        return null;
      end
      $$`.execute(db);
    await sql`
      create trigger audit_events_notify after insert on audit_events
      for each statement execute function roster_notify_change()`.execute(db);
  },
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async down(db: Kysely<any>) {
    if (dialect !== 'postgres') return;
    await sql`drop trigger if exists audit_events_notify on audit_events`.execute(db);
    await sql`drop function if exists roster_notify_change()`.execute(db);
  },
});
