import type { ColumnDefinitionBuilder, Kysely } from 'kysely';
import type { MigrationFor } from './index.js';

/**
 * The admin console: collaborators' password credentials (scrypt hashes) and their sign-in
 * sessions (the cookie's token and CSRF token are stored hashed). Both go with the member.
 */
export const consoleMigration: MigrationFor = (dialect) => ({
  // Kysely<any> is the documented type for migrations: they must not depend on today's row types.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async up(db: Kysely<any>) {
    const ws = (c: ColumnDefinitionBuilder) =>
      c.notNull().references('workspaces.id').onDelete('cascade');
    const member = (c: ColumnDefinitionBuilder) =>
      c.notNull().references('members.id').onDelete('cascade');

    await db.schema
      .createTable('console_credentials')
      .addColumn('member_id', 'integer', (c) => member(c).primaryKey())
      .addColumn('workspace_id', 'integer', ws)
      .addColumn('password_hash', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();

    const sessions = db.schema.createTable('console_sessions');
    await (
      dialect === 'postgres'
        ? sessions.addColumn('id', 'serial', (c) => c.primaryKey())
        : sessions.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    )
      .addColumn('workspace_id', 'integer', ws)
      .addColumn('member_id', 'integer', member)
      .addColumn('token_hash', 'text', (c) => c.notNull().unique())
      .addColumn('csrf_hash', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('console_sessions_member_idx')
      .on('console_sessions')
      .column('member_id')
      .execute();
  },
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async down(db: Kysely<any>) {
    await db.schema.dropTable('console_sessions').execute();
    await db.schema.dropTable('console_credentials').execute();
  },
});
