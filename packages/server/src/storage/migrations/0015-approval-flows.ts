import type { ColumnDefinitionBuilder, CreateTableBuilder, Kysely } from 'kysely';
import type { MigrationFor } from './index.js';

/**
 * Approval flows (docs/end-users.md "Approval flows"): a require_approval policy's approver chain
 * (`policy_approval_steps`, one row per approver of a step), the chain copied onto each request
 * when it opens (`approval_request_steps`, with each step's decision), and on the request itself
 * its expiry, and the scope an approval granted (`once`, or a `window` ending at
 * `window_ends_at`); a rejection's `used_at` says when a decision reported it. Requests opened before this migration expire a day after they opened (the
 * default of ROSTER_APPROVAL_TTL_MINUTES).
 */
export const approvalFlowsMigration: MigrationFor = (dialect) => ({
  // Kysely<any> is the documented type for migrations: they must not depend on today's row types.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async up(db: Kysely<any>) {
    const serial = <T extends string>(table: CreateTableBuilder<T>) =>
      dialect === 'postgres'
        ? table.addColumn('id', 'serial', (c) => c.primaryKey())
        : table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
    const ws = (c: ColumnDefinitionBuilder) =>
      c.notNull().references('workspaces.id').onDelete('cascade');

    await serial(db.schema.createTable('policy_approval_steps'))
      .addColumn('workspace_id', 'integer', ws)
      .addColumn('policy_id', 'integer', (c) =>
        c.notNull().references('policies.id').onDelete('cascade'),
      )
      .addColumn('position', 'integer', (c) => c.notNull())
      .addColumn('member_id', 'integer', (c) => c.references('members.id').onDelete('cascade'))
      .addColumn('group_id', 'integer', (c) =>
        c.references('end_user_groups.id').onDelete('cascade'),
      )
      .addUniqueConstraint('policy_approval_steps_member_unique', [
        'policy_id',
        'position',
        'member_id',
      ])
      .addUniqueConstraint('policy_approval_steps_group_unique', [
        'policy_id',
        'position',
        'group_id',
      ])
      .execute();

    await serial(db.schema.createTable('approval_request_steps'))
      .addColumn('workspace_id', 'integer', ws)
      .addColumn('request_id', 'integer', (c) =>
        c.notNull().references('approval_requests.id').onDelete('cascade'),
      )
      .addColumn('position', 'integer', (c) => c.notNull())
      // JSON {"member_ids":[…],"group_ids":[…]}: the chain as the policy had it when the request opened.
      .addColumn('approvers', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('decided_at', 'text')
      .addColumn('decided_by_type', 'text')
      .addColumn('decided_by_id', 'text')
      .addColumn('decided_by_name', 'text')
      .addColumn('scope', 'text')
      .addColumn('minutes', 'integer')
      .addUniqueConstraint('approval_request_steps_unique', ['request_id', 'position'])
      .execute();

    await db.schema.alterTable('approval_requests').addColumn('expires_at', 'text').execute();
    await db.schema.alterTable('approval_requests').addColumn('scope', 'text').execute();
    await db.schema.alterTable('approval_requests').addColumn('window_ends_at', 'text').execute();
    const rows = (await db
      .selectFrom('approval_requests')
      .select(['id', 'created_at'])
      .execute()) as { id: number; created_at: string }[];
    for (const row of rows) {
      const expires = new Date(Date.parse(row.created_at) + 24 * 60 * 60 * 1000).toISOString();
      await db
        .updateTable('approval_requests')
        .set({ expires_at: expires })
        .where('id', '=', row.id)
        .execute();
    }
    await db
      .updateTable('approval_requests')
      .set({ scope: 'once' })
      .where('status', 'in', ['approved', 'used'])
      .execute();
    // A decision now reports a rejection once (then a new request opens); older rejections count
    // as reported, as they were answered by the rule of their time.
    await db
      .updateTable('approval_requests')
      .set((eb) => ({ used_at: eb.ref('decided_at') }))
      .where('status', '=', 'rejected')
      .execute();
  },
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async down(db: Kysely<any>) {
    await db.schema.dropTable('approval_request_steps').execute();
    await db.schema.dropTable('policy_approval_steps').execute();
    await db.schema.alterTable('approval_requests').dropColumn('window_ends_at').execute();
    await db.schema.alterTable('approval_requests').dropColumn('scope').execute();
    await db.schema.alterTable('approval_requests').dropColumn('expires_at').execute();
  },
});
