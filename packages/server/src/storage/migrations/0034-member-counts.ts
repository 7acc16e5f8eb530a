import { sql, type Kysely } from 'kysely';
import type { MigrationFor } from './index.js';

/**
 * Each workspace's number of collaborators, kept by the database itself: the collaborators list's
 * `total` (GET /api/members, the reference API's exact count of the workspace's collaborators)
 * was a `count(*)` of the workspace's members next to each page, linear in the collaborators
 * (3.3 ms on SQLite, 18.5 ms on PostgreSQL at 23,000). Triggers on `members` add or take one in
 * the same transaction as each insert or delete, whichever path writes it (invitations accepted,
 * console sign-up, SCIM, DELETE /api/members, a workspace's cascade, bulk SQL), so the count is
 * exact at every commit; on PostgreSQL concurrent inserts into one workspace queue on its counter
 * row (an upsert), never lose an increment. A filtered list still counts its matches.
 *
 * PostgreSQL counts per statement (transition tables: one update for a bulk insert); SQLite has
 * row triggers only.
 */
export const memberCountsMigration: MigrationFor = (dialect) => ({
  // Kysely<any> is the documented type for migrations: they must not depend on today's row types.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('member_counts')
      .addColumn('workspace_id', 'integer', (c) =>
        c.primaryKey().references('workspaces.id').onDelete('cascade'),
      )
      .addColumn('n', 'integer', (c) => c.notNull())
      .execute();
    await sql`
      insert into member_counts (workspace_id, n)
      select workspace_id, count(*) from members group by workspace_id`.execute(db);
    if (dialect === 'postgres') {
      await sql`
        create function roster_members_counted() returns trigger language plpgsql as $$
        begin
          insert into member_counts (workspace_id, n)
            select workspace_id, count(*) from counted_members group by workspace_id
            on conflict (workspace_id) do update set n = member_counts.n + excluded.n;
          return null;
        end
        $$`.execute(db);
      await sql`
        create function roster_members_uncounted() returns trigger language plpgsql as $$
        begin
          update member_counts set n = member_counts.n - gone.n
            from (select workspace_id, count(*) as n from uncounted_members group by workspace_id) gone
            where member_counts.workspace_id = gone.workspace_id;
          return null;
        end
        $$`.execute(db);
      await sql`
        create trigger members_counted after insert on members
        referencing new table as counted_members
        for each statement execute function roster_members_counted()`.execute(db);
      await sql`
        create trigger members_uncounted after delete on members
        referencing old table as uncounted_members
        for each statement execute function roster_members_uncounted()`.execute(db);
      return;
    }
    await sql`
      create trigger members_counted after insert on members begin
        insert into member_counts (workspace_id, n) values (new.workspace_id, 1)
          on conflict (workspace_id) do update set n = n + 1;
      end`.execute(db);
    await sql`
      create trigger members_uncounted after delete on members begin
        update member_counts set n = n - 1 where workspace_id = old.workspace_id;
      end`.execute(db);
  },
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async down(db: Kysely<any>) {
    if (dialect === 'postgres') {
      await sql`drop trigger if exists members_counted on members`.execute(db);
      await sql`drop trigger if exists members_uncounted on members`.execute(db);
      await sql`drop function if exists roster_members_counted()`.execute(db);
      await sql`drop function if exists roster_members_uncounted()`.execute(db);
    } else {
      await sql`drop trigger if exists members_counted`.execute(db);
      await sql`drop trigger if exists members_uncounted`.execute(db);
    }
    await db.schema.dropTable('member_counts').execute();
  },
});
