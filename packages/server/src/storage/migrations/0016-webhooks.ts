import type { ColumnDefinitionBuilder, Kysely } from 'kysely';
import type { MigrationFor } from './index.js';

/**
 * Webhooks (modules/webhooks): the endpoints of a workspace (the signing secret stored encrypted,
 * lib/secret-box.ts) and the delivery queue. A delivery row is written in the transaction that
 * writes its audit event, so a committed change always has its deliveries and a rolled-back one
 * never does; a worker of any instance claims due rows with a lease (and FOR UPDATE SKIP LOCKED
 * on PostgreSQL), so a delivery survives a restart and two instances never send it at once.
 */
export const webhooksMigration: MigrationFor = (dialect) => ({
  // Kysely<any> is the documented type for migrations: they must not depend on today's row types.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async up(db: Kysely<any>) {
    const ws = (c: ColumnDefinitionBuilder) =>
      c.notNull().references('workspaces.id').onDelete('cascade');
    const withId = (name: string) => {
      const table = db.schema.createTable(name);
      return dialect === 'postgres'
        ? table.addColumn('id', 'serial', (c) => c.primaryKey())
        : table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
    };

    await withId('webhooks')
      .addColumn('workspace_id', 'integer', ws)
      .addColumn('url', 'text', (c) => c.notNull())
      .addColumn('description', 'text', (c) => c.notNull())
      /** JSON array of patterns: an action, `prefix.*` or `*`. */
      .addColumn('events', 'text', (c) => c.notNull())
      .addColumn('secret_encrypted', 'text', (c) => c.notNull())
      .addColumn('enabled', 'integer', (c) => c.notNull())
      .addColumn('consecutive_failures', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('disabled_reason', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('webhooks_workspace_idx')
      .on('webhooks')
      .columns(['workspace_id', 'enabled'])
      .execute();

    await withId('webhook_deliveries')
      .addColumn('workspace_id', 'integer', ws)
      .addColumn('webhook_id', 'integer', (c) =>
        c.notNull().references('webhooks.id').onDelete('cascade'),
      )
      /** The audit event delivered; its payload is built from the audit row when sent. */
      .addColumn('event_id', 'integer', (c) => c.notNull())
      .addColumn('event_type', 'text', (c) => c.notNull())
      /** Standard Webhooks `webhook-id`: the same for every attempt and redelivery of an event. */
      .addColumn('message_id', 'text', (c) => c.notNull())
      /** pending | succeeded | failed */
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('next_attempt_at', 'text')
      .addColumn('lease_until', 'text')
      .addColumn('lease_token', 'text')
      .addColumn('last_attempt_at', 'text')
      .addColumn('response_status', 'integer')
      .addColumn('last_error', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('webhook_deliveries_due_idx')
      .on('webhook_deliveries')
      .columns(['status', 'next_attempt_at'])
      .execute();
    await db.schema
      .createIndex('webhook_deliveries_webhook_idx')
      .on('webhook_deliveries')
      .columns(['webhook_id', 'id'])
      .execute();
  },
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async down(db: Kysely<any>) {
    await db.schema.dropTable('webhook_deliveries').execute();
    await db.schema.dropTable('webhooks').execute();
  },
});
