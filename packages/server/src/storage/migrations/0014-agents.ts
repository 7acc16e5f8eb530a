import type { ColumnDefinitionBuilder, Kysely } from 'kysely';
import type { MigrationFor } from './index.js';

/**
 * The MCP gateway (docs/agents.md): the upstream MCP server of an `mcp_server` feature (its header
 * values encrypted, lib/secret-box.ts), agent identities with hashed tokens, and the features
 * (and tools) each agent may use. The tool-call log is the audit log (`agent.tool_call` events,
 * written in batches by modules/gateway/tool-call-recorder.ts): no table of its own.
 */
export const agentsMigration: MigrationFor = (dialect) => ({
  // Kysely<any> is the documented type for migrations: they must not depend on today's row types.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async up(db: Kysely<any>) {
    const ws = (c: ColumnDefinitionBuilder) =>
      c.notNull().references('workspaces.id').onDelete('cascade');

    await db.schema
      .createTable('feature_upstreams')
      .addColumn('feature_id', 'integer', (c) =>
        c.primaryKey().references('features.id').onDelete('cascade'),
      )
      .addColumn('workspace_id', 'integer', ws)
      .addColumn('url', 'text', (c) => c.notNull())
      .addColumn('headers_encrypted', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();

    const agents = db.schema.createTable('agents');
    await (
      dialect === 'postgres'
        ? agents.addColumn('id', 'serial', (c) => c.primaryKey())
        : agents.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    )
      .addColumn('workspace_id', 'integer', ws)
      .addColumn('environment_id', 'integer', (c) =>
        c.notNull().references('environments.id').onDelete('cascade'),
      )
      .addColumn('end_user_id', 'integer', (c) =>
        c.notNull().references('end_users.id').onDelete('cascade'),
      )
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('token_hash', 'text', (c) => c.notNull().unique())
      .addColumn('token_prefix', 'text', (c) => c.notNull())
      .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('expires_at', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('rotated_at', 'text')
      .execute();
    await db.schema
      .createIndex('agents_workspace_idx')
      .on('agents')
      .columns(['workspace_id', 'id'])
      .execute();
    await db.schema.createIndex('agents_end_user_idx').on('agents').column('end_user_id').execute();

    await db.schema
      .createTable('agent_features')
      .addColumn('agent_id', 'integer', (c) =>
        c.notNull().references('agents.id').onDelete('cascade'),
      )
      .addColumn('feature_id', 'integer', (c) =>
        c.notNull().references('features.id').onDelete('cascade'),
      )
      .addColumn('tools', 'text')
      .addPrimaryKeyConstraint('agent_features_pk', ['agent_id', 'feature_id'])
      .execute();
    await db.schema
      .createIndex('agent_features_feature_idx')
      .on('agent_features')
      .column('feature_id')
      .execute();
  },
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async down(db: Kysely<any>) {
    await db.schema.dropTable('agent_features').execute();
    await db.schema.dropTable('agents').execute();
    await db.schema.dropTable('feature_upstreams').execute();
  },
});
