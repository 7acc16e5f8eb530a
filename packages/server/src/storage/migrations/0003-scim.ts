import type { ColumnDefinitionBuilder, CreateTableBuilder, Kysely } from 'kysely';
import type { MigrationFor } from './index.js';

/**
 * SCIM 2.0 provisioning (docs/scim.md): connections (one per environment and target population,
 * each with its own hashed bearer token), the SCIM view of the users and groups each connection
 * manages, and a per-membership marker of where a membership came from (`manual` or `external`,
 * i.e. the identity provider), so the drift rule can tell them apart.
 */
export const scimMigration: MigrationFor = (dialect) => ({
  // Kysely<any> is the documented type for migrations: they must not depend on today's row types.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async up(db: Kysely<any>) {
    const serial = <T extends string>(table: CreateTableBuilder<T>) =>
      dialect === 'postgres'
        ? table.addColumn('id', 'serial', (c) => c.primaryKey())
        : table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
    const ws = (c: ColumnDefinitionBuilder) =>
      c.notNull().references('workspaces.id').onDelete('cascade');
    const connection = (c: ColumnDefinitionBuilder) =>
      c.notNull().references('scim_connections.id').onDelete('cascade');

    await db.schema
      .createTable('scim_connections')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('workspace_id', 'integer', ws)
      .addColumn('environment_id', 'integer', (c) =>
        c.notNull().references('environments.id').onDelete('cascade'),
      )
      .addColumn('target', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('default_role', 'text')
      .addColumn('token_hash', 'text', (c) => c.notNull())
      .addColumn('token_prefix', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('rotated_at', 'text')
      .addColumn('last_sync_at', 'text')
      .execute();
    await db.schema
      .createIndex('scim_connections_workspace_idx')
      .on('scim_connections')
      .column('workspace_id')
      .execute();

    await serial(db.schema.createTable('scim_users'))
      .addColumn('workspace_id', 'integer', ws)
      .addColumn('connection_id', 'text', connection)
      .addColumn('end_user_id', 'integer', (c) => c.references('end_users.id').onDelete('cascade'))
      .addColumn('member_id', 'integer', (c) => c.references('members.id').onDelete('cascade'))
      .addColumn('user_name', 'text', (c) => c.notNull())
      .addColumn('user_name_key', 'text', (c) => c.notNull())
      .addColumn('external_id', 'text')
      .addColumn('display_name', 'text')
      .addColumn('given_name', 'text')
      .addColumn('family_name', 'text')
      .addColumn('formatted_name', 'text')
      // Every email value, lower-cased, each between newlines: one text column both dialects can
      // search with LIKE for "any of the user's emails" filters.
      .addColumn('emails_text', 'text', (c) => c.notNull())
      .addColumn('active', 'integer', (c) => c.notNull())
      .addColumn('resource', 'text', (c) => c.notNull())
      .addColumn('saved_role', 'text')
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('scim_users_user_name_unique', ['connection_id', 'user_name_key'])
      .execute();
    await db.schema
      .createIndex('scim_users_end_user_idx')
      .on('scim_users')
      .column('end_user_id')
      .execute();
    await db.schema
      .createIndex('scim_users_member_idx')
      .on('scim_users')
      .column('member_id')
      .execute();

    await serial(db.schema.createTable('scim_groups'))
      .addColumn('workspace_id', 'integer', ws)
      .addColumn('connection_id', 'text', connection)
      .addColumn('end_user_group_id', 'integer', (c) =>
        c.references('end_user_groups.id').onDelete('cascade'),
      )
      .addColumn('collaborator_group_id', 'text', (c) =>
        c.references('collaborator_groups.id').onDelete('cascade'),
      )
      .addColumn('display_name', 'text', (c) => c.notNull())
      .addColumn('external_id', 'text')
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('scim_groups_end_user_group_idx')
      .on('scim_groups')
      .column('end_user_group_id')
      .execute();
    await db.schema
      .createIndex('scim_groups_collaborator_group_idx')
      .on('scim_groups')
      .column('collaborator_group_id')
      .execute();
    await db.schema
      .createIndex('scim_groups_connection_idx')
      .on('scim_groups')
      .columns(['connection_id', 'id'])
      .execute();

    // Where each membership came from: 'manual' (API, console) or 'external' (an identity provider).
    await db.schema
      .alterTable('end_user_group_members')
      .addColumn('source', 'text', (c) => c.notNull().defaultTo('manual'))
      .execute();
    await db.schema
      .alterTable('group_memberships')
      .addColumn('source', 'text', (c) => c.notNull().defaultTo('manual'))
      .execute();
  },
});
