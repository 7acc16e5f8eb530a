import type { Kysely } from 'kysely';
import type { MigrationFor } from './index.js';

/**
 * The environment (and project) an audit event belongs to, derived once when it is written
 * (modules/audit/audit.repository.ts): the audit log, its export and the change stream show a
 * credential limited to some environments or projects only the events of those. Null: a
 * workspace-level event (collaborators, API clients, SSO, SCIM, webhooks, settings), and every
 * event written before this migration, shown to full-scope credentials only
 * (docs/integration.md, "Who sees what"). The index serves the scoped list and export, newest
 * first within the workspace's environment.
 */
export const auditEnvironmentMigration: MigrationFor = () => ({
  // Kysely<any> is the documented type for migrations: they must not depend on today's row types.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async up(db: Kysely<any>) {
    await db.schema.alterTable('audit_events').addColumn('environment_type', 'text').execute();
    await db.schema.alterTable('audit_events').addColumn('project_id', 'integer').execute();
    await db.schema
      .createIndex('audit_events_workspace_environment_id')
      .on('audit_events')
      .columns(['workspace_id', 'environment_type', 'id'])
      .execute();
  },
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async down(db: Kysely<any>) {
    await db.schema.dropIndex('audit_events_workspace_environment_id').execute();
    await db.schema.alterTable('audit_events').dropColumn('project_id').execute();
    await db.schema.alterTable('audit_events').dropColumn('environment_type').execute();
  },
});
