import { sql } from 'kysely';
import type { Executor, NewRow, Row } from '../../storage/database.js';
import type { PageRequest } from '../../lib/pagination.js';

export type WebhookRow = Row<'webhooks'>;
export type DeliveryRow = Row<'webhook_deliveries'>;

export function findWebhook(
  db: Executor,
  workspaceId: number,
  id: number,
): Promise<WebhookRow | undefined> {
  return db
    .selectFrom('webhooks')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export function listWebhooks(db: Executor, workspaceId: number): Promise<WebhookRow[]> {
  return db
    .selectFrom('webhooks')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .orderBy('id')
    .execute();
}

export async function insertWebhook(db: Executor, row: NewRow<'webhooks'>): Promise<number> {
  const { id } = await db
    .insertInto('webhooks')
    .values(row)
    .returning('id')
    .executeTakeFirstOrThrow();
  return id;
}

export async function updateWebhook(
  db: Executor,
  workspaceId: number,
  id: number,
  changes: Partial<NewRow<'webhooks'>>,
): Promise<void> {
  await db
    .updateTable('webhooks')
    .set(changes)
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .execute();
}

export async function deleteWebhook(db: Executor, workspaceId: number, id: number): Promise<void> {
  await db
    .deleteFrom('webhooks')
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .execute();
}

export async function listDeliveries(
  db: Executor,
  webhookId: number,
  status: DeliveryRow['status'] | undefined,
  page: PageRequest,
): Promise<{ rows: DeliveryRow[]; total: number }> {
  let query = db.selectFrom('webhook_deliveries').where('webhook_id', '=', webhookId);
  if (status !== undefined) query = query.where('status', '=', status);
  const [rows, count] = await Promise.all([
    query.selectAll().orderBy('id', 'desc').limit(page.size).offset(page.offset).execute(),
    query.select(sql<number>`cast(count(*) as integer)`.as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: count.n };
}

export function findDelivery(
  db: Executor,
  webhookId: number,
  id: number,
): Promise<DeliveryRow | undefined> {
  return db
    .selectFrom('webhook_deliveries')
    .selectAll()
    .where('webhook_id', '=', webhookId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export async function insertDelivery(
  db: Executor,
  row: NewRow<'webhook_deliveries'>,
): Promise<DeliveryRow> {
  return db.insertInto('webhook_deliveries').values(row).returningAll().executeTakeFirstOrThrow();
}
