import type { ColumnDefinitionBuilder, CreateTableBuilder, Kysely } from 'kysely';
import type { MigrationFor } from './index.js';

/**
 * End users (the people who use what a workspace builds: assistants, chat apps, MCP servers, the
 * apps portal), their environments, end-user groups, features with their grants, policies,
 * approval requests and portal invitations. Everything hangs off the workspace and cascades.
 */
export const endUsersMigration: MigrationFor = (dialect) => ({
  // Kysely<any> is the documented type for migrations: they must not depend on today's row types.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async up(db: Kysely<any>) {
    const serial = <T extends string>(table: CreateTableBuilder<T>) =>
      dialect === 'postgres'
        ? table.addColumn('id', 'serial', (c) => c.primaryKey())
        : table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
    const ws = (c: ColumnDefinitionBuilder) =>
      c.notNull().references('workspaces.id').onDelete('cascade');
    const env = (c: ColumnDefinitionBuilder) =>
      c.notNull().references('environments.id').onDelete('cascade');
    const endUser = (c: ColumnDefinitionBuilder) =>
      c.references('end_users.id').onDelete('cascade');
    const group = (c: ColumnDefinitionBuilder) =>
      c.references('end_user_groups.id').onDelete('cascade');

    await serial(db.schema.createTable('end_users'))
      .addColumn('workspace_id', 'integer', ws)
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('email', 'text', (c) => c.notNull())
      .addColumn('email_key', 'text', (c) => c.notNull())
      .addColumn('avatar_url', 'text')
      .addColumn('external_id', 'text')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('mfa_enabled', 'integer', (c) => c.notNull())
      .addColumn('source', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('end_users_email_unique', ['workspace_id', 'email_key'])
      .execute();
    await db.schema
      .createIndex('end_users_created_idx')
      .on('end_users')
      .columns(['workspace_id', 'created_at'])
      .execute();

    await db.schema
      .createTable('end_user_environments')
      .addColumn('workspace_id', 'integer', ws)
      .addColumn('end_user_id', 'integer', (c) => endUser(c).notNull())
      .addColumn('environment_id', 'integer', env)
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('end_user_environments_pk', ['end_user_id', 'environment_id'])
      .execute();
    await db.schema
      .createIndex('end_user_environments_env_idx')
      .on('end_user_environments')
      .column('environment_id')
      .execute();

    await serial(db.schema.createTable('end_user_groups'))
      .addColumn('workspace_id', 'integer', ws)
      .addColumn('environment_id', 'integer', env)
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('name_key', 'text', (c) => c.notNull())
      .addColumn('description', 'text')
      .addColumn('managed_by', 'text', (c) => c.notNull())
      .addColumn('roles', 'text', (c) => c.notNull())
      .addColumn('system', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('end_user_groups_name_unique', [
        'workspace_id',
        'environment_id',
        'name_key',
      ])
      .execute();

    await db.schema
      .createTable('end_user_group_members')
      .addColumn('workspace_id', 'integer', ws)
      .addColumn('group_id', 'integer', (c) => group(c).notNull())
      .addColumn('end_user_id', 'integer', (c) => endUser(c).notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('end_user_group_members_pk', ['group_id', 'end_user_id'])
      .execute();
    await db.schema
      .createIndex('end_user_group_members_user_idx')
      .on('end_user_group_members')
      .column('end_user_id')
      .execute();

    await serial(db.schema.createTable('features'))
      .addColumn('workspace_id', 'integer', ws)
      .addColumn('environment_id', 'integer', env)
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('name_key', 'text', (c) => c.notNull())
      .addColumn('description', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('features_name_unique', ['workspace_id', 'environment_id', 'name_key'])
      .execute();

    await serial(db.schema.createTable('feature_grants'))
      .addColumn('workspace_id', 'integer', ws)
      .addColumn('feature_id', 'integer', (c) =>
        c.notNull().references('features.id').onDelete('cascade'),
      )
      .addColumn('end_user_id', 'integer', endUser)
      .addColumn('group_id', 'integer', group)
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('feature_grants_user_unique', ['feature_id', 'end_user_id'])
      .addUniqueConstraint('feature_grants_group_unique', ['feature_id', 'group_id'])
      .execute();
    await db.schema
      .createIndex('feature_grants_user_idx')
      .on('feature_grants')
      .column('end_user_id')
      .execute();
    await db.schema
      .createIndex('feature_grants_group_idx')
      .on('feature_grants')
      .column('group_id')
      .execute();

    await serial(db.schema.createTable('policies'))
      .addColumn('workspace_id', 'integer', ws)
      .addColumn('environment_id', 'integer', env)
      .addColumn('feature_id', 'integer', (c) =>
        c.notNull().references('features.id').onDelete('cascade'),
      )
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('name_key', 'text', (c) => c.notNull())
      .addColumn('description', 'text')
      .addColumn('tools', 'text', (c) => c.notNull())
      .addColumn('scope_type', 'text', (c) => c.notNull())
      .addColumn('effect', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('policies_name_unique', ['workspace_id', 'environment_id', 'name_key'])
      .execute();
    await db.schema
      .createIndex('policies_feature_idx')
      .on('policies')
      .column('feature_id')
      .execute();

    // Scope targets as rows (not JSON) so deleting a user or group removes it from every policy
    // through the foreign key, in the same statement.
    await serial(db.schema.createTable('policy_targets'))
      .addColumn('workspace_id', 'integer', ws)
      .addColumn('policy_id', 'integer', (c) =>
        c.notNull().references('policies.id').onDelete('cascade'),
      )
      .addColumn('end_user_id', 'integer', endUser)
      .addColumn('group_id', 'integer', group)
      .addUniqueConstraint('policy_targets_user_unique', ['policy_id', 'end_user_id'])
      .addUniqueConstraint('policy_targets_group_unique', ['policy_id', 'group_id'])
      .execute();
    await db.schema
      .createIndex('policy_targets_user_idx')
      .on('policy_targets')
      .column('end_user_id')
      .execute();
    await db.schema
      .createIndex('policy_targets_group_idx')
      .on('policy_targets')
      .column('group_id')
      .execute();

    await serial(db.schema.createTable('approval_requests'))
      .addColumn('workspace_id', 'integer', ws)
      .addColumn('end_user_id', 'integer', (c) => endUser(c).notNull())
      .addColumn('environment_id', 'integer', env)
      .addColumn('feature_id', 'integer', (c) =>
        c.notNull().references('features.id').onDelete('cascade'),
      )
      // '' = a call to the feature without a tool, so equality works the same in both dialects.
      .addColumn('tool', 'text', (c) => c.notNull())
      .addColumn('policy_id', 'integer', (c) => c.references('policies.id').onDelete('set null'))
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('decided_at', 'text')
      .addColumn('decided_by', 'text')
      .addColumn('used_at', 'text')
      .execute();
    await db.schema
      .createIndex('approval_requests_lookup_idx')
      .on('approval_requests')
      .columns(['end_user_id', 'feature_id', 'tool', 'status'])
      .execute();
    await db.schema
      .createIndex('approval_requests_workspace_idx')
      .on('approval_requests')
      .columns(['workspace_id', 'status', 'id'])
      .execute();

    await serial(db.schema.createTable('end_user_invitations'))
      .addColumn('workspace_id', 'integer', ws)
      .addColumn('end_user_id', 'integer', (c) => endUser(c).notNull())
      .addColumn('token_hash', 'text', (c) => c.notNull().unique())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .addColumn('accepted_at', 'text')
      .execute();
    await db.schema
      .createIndex('end_user_invitations_user_idx')
      .on('end_user_invitations')
      .column('end_user_id')
      .execute();
  },
});
