import type { Kysely } from 'kysely';
import type { MigrationFor } from './index.js';

/**
 * Interactive MCP clients (docs/agents.md "Interactive MCP clients (OAuth)"): the storage of the
 * OAuth authorization server (oidc-provider's adapter, modules/oauth/oauth.adapter.ts). One table
 * for every model the library stores (registered clients, authorization codes, access and
 * refresh tokens, grants, sessions, interactions, and Roster's signing key), so several
 * instances on one PostgreSQL database share them and a restart loses nothing.
 *
 * `id_hash` is the SHA-256 of the library's id (for opaque tokens and codes the id IS the
 * credential): a database dump holds no usable token. `payload` is JSON, or sealed with the
 * server's secret key for the models that carry a secret (clients, the signing key).
 *
 * `sso_login_attempts.oauth_interaction`: the authorization request (the library's interaction
 * uid) a workspace SSO sign-in finishes, for attempts of purpose `mcp`.
 */
export const oauthMigration: MigrationFor = () => ({
  // Kysely<any> is the documented type for migrations: they must not depend on today's row types.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('oauth_records')
      .addColumn('model', 'text', (c) => c.notNull())
      .addColumn('id_hash', 'text', (c) => c.notNull())
      .addColumn('payload', 'text', (c) => c.notNull())
      .addColumn('grant_id', 'text')
      .addColumn('uid_hash', 'text')
      .addColumn('user_code', 'text')
      .addColumn('expires_at', 'text')
      .addColumn('consumed_at', 'text')
      .addPrimaryKeyConstraint('oauth_records_pk', ['model', 'id_hash'])
      .execute();
    await db.schema
      .createIndex('oauth_records_grant_idx')
      .on('oauth_records')
      .column('grant_id')
      .execute();
    await db.schema
      .createIndex('oauth_records_uid_idx')
      .on('oauth_records')
      .columns(['model', 'uid_hash'])
      .execute();
    await db.schema
      .createIndex('oauth_records_expiry_idx')
      .on('oauth_records')
      .column('expires_at')
      .execute();
    await db.schema
      .alterTable('sso_login_attempts')
      .addColumn('oauth_interaction', 'text')
      .execute();
  },
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async down(db: Kysely<any>) {
    await db.schema.alterTable('sso_login_attempts').dropColumn('oauth_interaction').execute();
    await db.schema.dropTable('oauth_records').execute();
  },
});
