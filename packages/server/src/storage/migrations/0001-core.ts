import type { ColumnDefinitionBuilder, CreateTableBuilder, Kysely } from 'kysely';
import type { MigrationFor } from './index.js';

/** The core schema: workspaces, environments, collaborators, roles, groups, projects, grants, clients, audit. */
export const coreMigration: MigrationFor = (dialect) => ({
  // Kysely<any> is the documented type for migrations: they must not depend on today's row types.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async up(db: Kysely<any>) {
    const serial = <T extends string>(table: CreateTableBuilder<T>) =>
      dialect === 'postgres'
        ? table.addColumn('id', 'serial', (c) => c.primaryKey())
        : table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
    const ws = (c: ColumnDefinitionBuilder) =>
      c.notNull().references('workspaces.id').onDelete('cascade');

    await serial(db.schema.createTable('workspaces'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('environments_enabled', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();

    await serial(db.schema.createTable('environments'))
      .addColumn('workspace_id', 'integer', ws)
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('environments_workspace_type_unique', ['workspace_id', 'type'])
      .execute();

    await serial(db.schema.createTable('legacy_roles'))
      .addColumn('workspace_id', 'integer', ws)
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('name_key', 'text', (c) => c.notNull())
      .addColumn('privileges', 'text', (c) => c.notNull())
      .addColumn('system', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('legacy_roles_name_unique', ['workspace_id', 'name_key'])
      .execute();

    await serial(db.schema.createTable('environment_roles'))
      .addColumn('workspace_id', 'integer', ws)
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('name_key', 'text', (c) => c.notNull())
      .addColumn('config', 'text', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('inheritable', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('environment_roles_name_unique', ['workspace_id', 'name_key'])
      .execute();

    await db.schema
      .createTable('project_roles')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('workspace_id', 'integer', ws)
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('name_key', 'text', (c) => c.notNull())
      .addColumn('config', 'text', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('inheritable', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('project_roles_name_unique', ['workspace_id', 'name_key'])
      .execute();

    await serial(db.schema.createTable('members'))
      .addColumn('workspace_id', 'integer', ws)
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('email', 'text', (c) => c.notNull())
      .addColumn('email_key', 'text', (c) => c.notNull())
      .addColumn('external_id', 'text')
      .addColumn('time_zone', 'text', (c) => c.notNull())
      .addColumn('grant_type', 'text', (c) => c.notNull())
      .addColumn('avatar_url', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('members_email_unique', ['workspace_id', 'email_key'])
      .execute();

    await db.schema
      .createTable('member_environment_roles')
      .addColumn('workspace_id', 'integer', ws)
      .addColumn('member_id', 'integer', (c) =>
        c.notNull().references('members.id').onDelete('cascade'),
      )
      .addColumn('environment_id', 'integer', (c) =>
        c.notNull().references('environments.id').onDelete('cascade'),
      )
      .addColumn('role_type', 'text', (c) => c.notNull())
      .addColumn('legacy_role_id', 'integer', (c) => c.references('legacy_roles.id'))
      .addColumn('environment_role_id', 'integer', (c) => c.references('environment_roles.id'))
      .addPrimaryKeyConstraint('member_environment_roles_pk', ['member_id', 'environment_id'])
      .execute();
    await db.schema
      .createIndex('member_environment_roles_legacy_idx')
      .on('member_environment_roles')
      .column('legacy_role_id')
      .execute();
    await db.schema
      .createIndex('member_environment_roles_env_role_idx')
      .on('member_environment_roles')
      .column('environment_role_id')
      .execute();

    await db.schema
      .createTable('collaborator_groups')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('workspace_id', 'integer', ws)
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('name_key', 'text', (c) => c.notNull())
      .addColumn('description', 'text')
      .addColumn('system', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('collaborator_groups_name_unique', ['workspace_id', 'name_key'])
      .execute();

    await serial(db.schema.createTable('member_invitations'))
      .addColumn('workspace_id', 'integer', ws)
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('email', 'text', (c) => c.notNull())
      .addColumn('email_key', 'text', (c) => c.notNull())
      .addColumn('token_hash', 'text', (c) => c.notNull().unique())
      .addColumn('env_roles', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('invited_by', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .addColumn('accepted_at', 'text')
      .addColumn('member_id', 'integer', (c) => c.references('members.id').onDelete('set null'))
      .execute();
    await db.schema
      .createIndex('member_invitations_email_idx')
      .on('member_invitations')
      .columns(['workspace_id', 'email_key', 'created_at'])
      .execute();

    await serial(db.schema.createTable('group_memberships'))
      .addColumn('workspace_id', 'integer', ws)
      .addColumn('group_id', 'text', (c) =>
        c.notNull().references('collaborator_groups.id').onDelete('cascade'),
      )
      .addColumn('member_id', 'integer', (c) => c.references('members.id').onDelete('cascade'))
      .addColumn('invitation_id', 'integer', (c) =>
        c.references('member_invitations.id').onDelete('cascade'),
      )
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text')
      .addUniqueConstraint('group_memberships_member_unique', ['group_id', 'member_id'])
      .addUniqueConstraint('group_memberships_invitation_unique', ['group_id', 'invitation_id'])
      .execute();
    await db.schema
      .createIndex('group_memberships_member_idx')
      .on('group_memberships')
      .column('member_id')
      .execute();
    await db.schema
      .createIndex('group_memberships_invitation_idx')
      .on('group_memberships')
      .column('invitation_id')
      .execute();

    await serial(db.schema.createTable('projects'))
      .addColumn('workspace_id', 'integer', ws)
      .addColumn('environment_id', 'integer', (c) =>
        c.notNull().references('environments.id').onDelete('cascade'),
      )
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('description', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('projects_workspace_idx')
      .on('projects')
      .columns(['workspace_id', 'environment_id'])
      .execute();

    await db.schema
      .createTable('project_grants')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('workspace_id', 'integer', ws)
      .addColumn('project_id', 'integer', (c) =>
        c.notNull().references('projects.id').onDelete('cascade'),
      )
      .addColumn('project_role_id', 'text', (c) => c.notNull().references('project_roles.id'))
      .addColumn('member_id', 'integer', (c) => c.references('members.id').onDelete('cascade'))
      .addColumn('group_id', 'text', (c) =>
        c.references('collaborator_groups.id').onDelete('cascade'),
      )
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text')
      .addUniqueConstraint('project_grants_member_unique', [
        'project_id',
        'project_role_id',
        'member_id',
      ])
      .addUniqueConstraint('project_grants_group_unique', [
        'project_id',
        'project_role_id',
        'group_id',
      ])
      .execute();
    await db.schema
      .createIndex('project_grants_member_idx')
      .on('project_grants')
      .column('member_id')
      .execute();
    await db.schema
      .createIndex('project_grants_group_idx')
      .on('project_grants')
      .column('group_id')
      .execute();
    await db.schema
      .createIndex('project_grants_role_idx')
      .on('project_grants')
      .column('project_role_id')
      .execute();

    await serial(db.schema.createTable('api_clients'))
      .addColumn('workspace_id', 'integer', ws)
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('token_hash', 'text', (c) => c.notNull().unique())
      .addColumn('token_prefix', 'text', (c) => c.notNull())
      .addColumn('environment_types', 'text', (c) => c.notNull())
      .addColumn('project_ids', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('rotated_at', 'text')
      .addColumn('revoked_at', 'text')
      .execute();
    await db.schema
      .createIndex('api_clients_workspace_idx')
      .on('api_clients')
      .column('workspace_id')
      .execute();

    await serial(db.schema.createTable('audit_events'))
      .addColumn('workspace_id', 'integer', ws)
      .addColumn('actor_type', 'text', (c) => c.notNull())
      .addColumn('actor_id', 'text')
      .addColumn('actor_name', 'text')
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('target_type', 'text', (c) => c.notNull())
      .addColumn('target_id', 'text')
      .addColumn('before_json', 'text')
      .addColumn('after_json', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('audit_events_workspace_idx')
      .on('audit_events')
      .columns(['workspace_id', 'id'])
      .execute();
    await db.schema
      .createIndex('audit_events_actor_idx')
      .on('audit_events')
      .columns(['workspace_id', 'actor_type', 'actor_id', 'id'])
      .execute();
  },
});
