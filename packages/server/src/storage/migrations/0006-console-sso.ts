import type { ColumnDefinitionBuilder, Kysely } from 'kysely';
import type { MigrationFor } from './index.js';

/**
 * Console sign-in through the workspace's OpenID Connect connection: end users whose groups carry
 * the Admin or Read Only role get console sessions of their own (kept apart from collaborators'
 * sessions, whose member_id cannot be null), and each login attempt remembers what it signs in to
 * (`portal`: the end-user sign-up of docs/sso.md; `console`: the admin console).
 */
export const consoleSsoMigration: MigrationFor = (dialect) => ({
  // Kysely<any> is the documented type for migrations: they must not depend on today's row types.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async up(db: Kysely<any>) {
    const ws = (c: ColumnDefinitionBuilder) =>
      c.notNull().references('workspaces.id').onDelete('cascade');

    const sessions = db.schema.createTable('console_end_user_sessions');
    await (
      dialect === 'postgres'
        ? sessions.addColumn('id', 'serial', (c) => c.primaryKey())
        : sessions.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    )
      .addColumn('workspace_id', 'integer', ws)
      .addColumn('end_user_id', 'integer', (c) =>
        c.notNull().references('end_users.id').onDelete('cascade'),
      )
      .addColumn('token_hash', 'text', (c) => c.notNull().unique())
      .addColumn('csrf_hash', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('console_end_user_sessions_user_idx')
      .on('console_end_user_sessions')
      .column('end_user_id')
      .execute();

    await db.schema
      .alterTable('sso_login_attempts')
      .addColumn('purpose', 'text', (c) => c.notNull().defaultTo('portal'))
      .execute();
  },
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async down(db: Kysely<any>) {
    await db.schema.alterTable('sso_login_attempts').dropColumn('purpose').execute();
    await db.schema.dropTable('console_end_user_sessions').execute();
  },
});
