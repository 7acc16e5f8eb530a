import type { ColumnDefinitionBuilder, Kysely } from 'kysely';
import type { MigrationFor } from './index.js';

/**
 * SSO sign-up with OpenID Connect: one connection per workspace (the client secret is stored
 * encrypted, see modules/sso/sso.secrets.ts) and the short-lived login attempts that carry
 * state, nonce and PKCE verifier between the login redirect and the callback.
 */
export const ssoMigration: MigrationFor = (dialect) => ({
  // Kysely<any> is the documented type for migrations: they must not depend on today's row types.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async up(db: Kysely<any>) {
    const ws = (c: ColumnDefinitionBuilder) =>
      c.notNull().references('workspaces.id').onDelete('cascade');

    await db.schema
      .createTable('sso_oidc_connections')
      .addColumn('workspace_id', 'integer', (c) => ws(c).primaryKey())
      .addColumn('issuer_url', 'text', (c) => c.notNull())
      .addColumn('client_id', 'text', (c) => c.notNull())
      .addColumn('client_secret_encrypted', 'text', (c) => c.notNull())
      .addColumn('allowed_domains', 'text', (c) => c.notNull())
      .addColumn('groups_claim', 'text')
      .addColumn('environment_types', 'text', (c) => c.notNull())
      .addColumn('scopes', 'text', (c) => c.notNull())
      .addColumn('enabled', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();

    const logins = db.schema.createTable('sso_login_attempts');
    await (
      dialect === 'postgres'
        ? logins.addColumn('id', 'serial', (c) => c.primaryKey())
        : logins.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    )
      .addColumn('workspace_id', 'integer', ws)
      .addColumn('state_hash', 'text', (c) => c.notNull().unique())
      .addColumn('nonce', 'text', (c) => c.notNull())
      .addColumn('code_verifier', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .addColumn('used_at', 'text')
      .execute();
    await db.schema
      .createIndex('sso_login_attempts_expires_idx')
      .on('sso_login_attempts')
      .column('expires_at')
      .execute();
  },
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async down(db: Kysely<any>) {
    await db.schema.dropTable('sso_login_attempts').execute();
    await db.schema.dropTable('sso_oidc_connections').execute();
  },
});
