/**
 * Agents and the features (and tools) each may use. Dialect-neutral Kysely, `db | trx` first.
 */
import type { Executor, NewRow, Row } from '../../storage/database.js';
import type { PageRequest } from '../../lib/pagination.js';

export type AgentRow = Row<'agents'> & {
  environment_type: string;
  end_user_name: string;
  end_user_email: string;
};

function agents(db: Executor) {
  return db
    .selectFrom('agents as a')
    .innerJoin('environments as e', 'e.id', 'a.environment_id')
    .innerJoin('end_users as u', 'u.id', 'a.end_user_id')
    .selectAll('a')
    .select(['e.type as environment_type', 'u.name as end_user_name', 'u.email as end_user_email']);
}

export function findAgentById(
  db: Executor,
  workspaceId: number,
  id: number,
): Promise<AgentRow | undefined> {
  return agents(db)
    .where('a.workspace_id', '=', workspaceId)
    .where('a.id', '=', id)
    .executeTakeFirst();
}

export function findAgentByTokenHash(
  db: Executor,
  tokenHash: string,
): Promise<AgentRow | undefined> {
  return agents(db).where('a.token_hash', '=', tokenHash).executeTakeFirst();
}

export async function listAgents(
  db: Executor,
  workspaceId: number,
  filter: { environmentTypes: string[]; endUserId?: number | undefined },
  page: PageRequest,
): Promise<{ rows: AgentRow[]; total: number }> {
  if (filter.environmentTypes.length === 0) return { rows: [], total: 0 };
  let query = agents(db)
    .where('a.workspace_id', '=', workspaceId)
    .where('e.type', 'in', filter.environmentTypes);
  let base = db
    .selectFrom('agents as a')
    .innerJoin('environments as e', 'e.id', 'a.environment_id')
    .where('a.workspace_id', '=', workspaceId)
    .where('e.type', 'in', filter.environmentTypes);
  if (filter.endUserId !== undefined) {
    query = query.where('a.end_user_id', '=', filter.endUserId);
    base = base.where('a.end_user_id', '=', filter.endUserId);
  }
  const [rows, count] = await Promise.all([
    query.orderBy('a.id').limit(page.size).offset(page.offset).execute(),
    base.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

export function insertAgent(db: Executor, row: NewRow<'agents'>) {
  return db.insertInto('agents').values(row).returning('id').executeTakeFirstOrThrow();
}

export async function updateAgent(
  db: Executor,
  id: number,
  changes: Partial<
    Pick<
      Row<'agents'>,
      | 'name'
      | 'disabled'
      | 'expires_at'
      | 'token_hash'
      | 'token_prefix'
      | 'rotated_at'
      | 'updated_at'
    >
  >,
): Promise<void> {
  await db.updateTable('agents').set(changes).where('id', '=', id).execute();
}

export async function deleteAgent(db: Executor, id: number): Promise<void> {
  await db.deleteFrom('agents').where('id', '=', id).execute();
}

export function listAgentFeatures(db: Executor, agentIds: number[]) {
  if (agentIds.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('agent_features')
    .selectAll()
    .where('agent_id', 'in', agentIds)
    .orderBy('agent_id')
    .orderBy('feature_id')
    .execute();
}

/** Replaces the agent's features (and their tool lists). */
export async function replaceAgentFeatures(
  db: Executor,
  agentId: number,
  rows: { feature_id: number; tools: string | null }[],
): Promise<void> {
  await db.deleteFrom('agent_features').where('agent_id', '=', agentId).execute();
  if (rows.length === 0) return;
  await db
    .insertInto('agent_features')
    .values(rows.map((r) => ({ agent_id: agentId, ...r })))
    .execute();
}
