import { sql, type Kysely } from 'kysely';
import type { MigrationFor } from './index.js';

/**
 * Counts the database keeps, so that a list's exact `total` (the reference API's) is one row read
 * whatever the size (issue 14: the list requests' cost grew with the data under the mixed load):
 * - `member_counts`: each workspace's collaborators, for GET /api/members (a `count(*)` of the
 *   workspace's members next to each page: 3.3 ms on SQLite, 18.5 ms on PostgreSQL at 23,000);
 * - `project_grant_counts`: each project's grants, for GET /api/projects/:id/project_grants.
 * Triggers add or take in the same transaction as each insert or delete, whichever path writes
 * the row (invitations, console sign-up, SCIM, the API, cascades, bulk SQL), so a count is exact at
 * every commit; on PostgreSQL concurrent writers of one workspace's (one project's) rows queue on
 * its counter row at their commits (deferred triggers, below), never lose an increment. A delete
 * only updates (a counter whose workspace or project goes in the same cascade is gone with it).
 * Filtered lists still count their matches.
 *
 * And `project_grants (workspace_id, project_id, created_at)`, replacing 0028's
 * `(workspace_id, project_id)` (its prefix): a project's grants page is read in the order of
 * `created_at` up to the page's last row, not sorted whole (grants.repository.ts listGrants).
 *
 * SQLite runs one write transaction at a time: its triggers fire at the insert.
 */
/** A table whose rows are counted per parent (a workspace, a project), and where. */
interface Counted {
  table: string;
  counts: string;
  key: string;
  parent: string;
}
const COUNTED: readonly Counted[] = [
  { table: 'members', counts: 'member_counts', key: 'workspace_id', parent: 'workspaces' },
  {
    table: 'project_grants',
    counts: 'project_grant_counts',
    key: 'project_id',
    parent: 'projects',
  },
];

/**
 * PostgreSQL: constraint triggers deferred to the commit. An upsert of the counter row locks it
 * until the transaction ends, and concurrent writers of one workspace (one project) queue on that
 * lock; fired at the insert, it would be held through the rest of the write's statements (its
 * roles, memberships, audit event: round trips), so concurrent invitations accepted would run one
 * after another. Fired at the commit, the lock is held for the commit only. Row triggers (a
 * constraint trigger has no statement form): a bulk insert counts row by row, at its commit.
 */
// Kysely<any> is the documented type for migrations: they must not depend on today's row types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function postgresTriggers(db: Kysely<any>, { table, counts, key }: Counted) {
  // Identifiers from COUNTED above, never from input.
  const t = sql.table(table);
  const c = sql.table(counts);
  const k = sql.ref(key);
  await sql`
    create function ${sql.id(`roster_${table}_counted`)}() returns trigger language plpgsql as $$
    begin
      insert into ${c} (${k}, n) values (new.${k}, 1)
        on conflict (${k}) do update set n = ${c}.n + 1;
      return null;
    end
    $$`.execute(db);
  await sql`
    create function ${sql.id(`roster_${table}_uncounted`)}() returns trigger language plpgsql as $$
    begin
      update ${c} set n = ${c}.n - 1 where ${k} = old.${k};
      return null;
    end
    $$`.execute(db);
  await sql`
    create constraint trigger ${sql.id(`${table}_counted`)} after insert on ${t}
    deferrable initially deferred
    for each row execute function ${sql.id(`roster_${table}_counted`)}()`.execute(db);
  await sql`
    create constraint trigger ${sql.id(`${table}_uncounted`)} after delete on ${t}
    deferrable initially deferred
    for each row execute function ${sql.id(`roster_${table}_uncounted`)}()`.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function sqliteTriggers(db: Kysely<any>, { table, counts, key }: Counted) {
  const t = sql.table(table);
  const c = sql.table(counts);
  const k = sql.ref(key);
  await sql`
    create trigger ${sql.id(`${table}_counted`)} after insert on ${t} begin
      insert into ${c} (${k}, n) values (new.${k}, 1)
        on conflict (${k}) do update set n = n + 1;
    end`.execute(db);
  await sql`
    create trigger ${sql.id(`${table}_uncounted`)} after delete on ${t} begin
      update ${c} set n = n - 1 where ${k} = old.${k};
    end`.execute(db);
}

export const keptCountsMigration: MigrationFor = (dialect) => ({
  // Kysely<any> is the documented type for migrations: they must not depend on today's row types.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async up(db: Kysely<any>) {
    for (const counted of COUNTED) {
      await db.schema
        .createTable(counted.counts)
        .addColumn(counted.key, 'integer', (c) =>
          c.primaryKey().references(`${counted.parent}.id`).onDelete('cascade'),
        )
        .addColumn('n', 'integer', (c) => c.notNull())
        .execute();
      await sql`
        insert into ${sql.table(counted.counts)} (${sql.ref(counted.key)}, n)
        select ${sql.ref(counted.key)}, count(*) from ${sql.table(counted.table)}
        group by ${sql.ref(counted.key)}`.execute(db);
      if (dialect === 'postgres') await postgresTriggers(db, counted);
      else await sqliteTriggers(db, counted);
    }
    await db.schema
      .createIndex('project_grants_project_created_idx')
      .on('project_grants')
      .columns(['workspace_id', 'project_id', 'created_at'])
      .execute();
    await db.schema.dropIndex('project_grants_workspace_project_idx').execute();
  },
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async down(db: Kysely<any>) {
    await db.schema
      .createIndex('project_grants_workspace_project_idx')
      .on('project_grants')
      .columns(['workspace_id', 'project_id'])
      .execute();
    await db.schema.dropIndex('project_grants_project_created_idx').execute();
    for (const counted of COUNTED) {
      for (const suffix of ['counted', 'uncounted']) {
        const name = `${counted.table}_${suffix}`;
        if (dialect === 'postgres') {
          await sql`drop trigger if exists ${sql.id(name)} on ${sql.table(counted.table)}`.execute(
            db,
          );
          await sql`drop function if exists ${sql.id(`roster_${name}`)}()`.execute(db);
        } else await sql`drop trigger if exists ${sql.id(name)}`.execute(db);
      }
      await db.schema.dropTable(counted.counts).execute();
    }
  },
});
