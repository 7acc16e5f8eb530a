import type { Kysely } from 'kysely';
import type { MigrationFor } from './index.js';

/**
 * The live instances of a PostgreSQL deployment (modules/cluster, docs/operations.md "Several
 * instances"): one row per instance URL, its process's ID and its last heartbeat. Workspaces are
 * spread over the rows whose heartbeat is recent. SQLite runs one instance and never uses it; the
 * table exists there too so that both stores have one schema.
 */
export const clusterInstancesMigration: MigrationFor = (dialect) => ({
  // Kysely<any> is the documented type for migrations: they must not depend on today's row types.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async up(db: Kysely<any>) {
    const time = dialect === 'postgres' ? 'timestamptz' : 'text';
    await db.schema
      .createTable('cluster_instances')
      .addColumn('url', 'text', (c) => c.primaryKey())
      .addColumn('instance_id', 'text', (c) => c.notNull())
      .addColumn('started_at', time, (c) => c.notNull())
      .addColumn('heartbeat_at', time, (c) => c.notNull())
      .execute();
  },
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async down(db: Kysely<any>) {
    await db.schema.dropTable('cluster_instances').execute();
  },
});
