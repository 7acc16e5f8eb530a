import { sql } from 'kysely';
import type { Executor, NewRow, Row } from '../../storage/database.js';
import { likeContains, type PageRequest } from '../../lib/pagination.js';

export type FeatureRow = Row<'features'> & { environment_type: string };

function features(db: Executor, workspaceId: number) {
  return db
    .selectFrom('features as f')
    .innerJoin('environments as e', 'e.id', 'f.environment_id')
    .selectAll('f')
    .select('e.type as environment_type')
    .where('f.workspace_id', '=', workspaceId);
}

export function findFeatureById(
  db: Executor,
  workspaceId: number,
  id: number,
): Promise<FeatureRow | undefined> {
  return features(db, workspaceId).where('f.id', '=', id).executeTakeFirst();
}

export function findFeaturesByIds(
  db: Executor,
  workspaceId: number,
  ids: number[],
): Promise<FeatureRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return features(db, workspaceId).where('f.id', 'in', ids).execute();
}

export function findFeatureByNameKey(
  db: Executor,
  workspaceId: number,
  environmentId: number,
  nameKey: string,
) {
  return db
    .selectFrom('features')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('environment_id', '=', environmentId)
    .where('name_key', '=', nameKey)
    .executeTakeFirst();
}

/**
 * One page of the features, oldest first, each with how many policies it has (one count by the
 * policies' feature index per row of the page), and how many match in all.
 */
export async function listFeatures(
  db: Executor,
  workspaceId: number,
  filter: { environmentTypes: string[]; kind?: string | undefined; name?: string | undefined },
  page: PageRequest,
): Promise<{ rows: (FeatureRow & { policy_count: number })[]; total: number }> {
  if (filter.environmentTypes.length === 0) return { rows: [], total: 0 };
  const name =
    filter.name === undefined || filter.name === '' ? undefined : likeContains(filter.name);
  let query = features(db, workspaceId)
    .select(
      sql<number>`(select cast(count(*) as integer) from policies as p where p.feature_id = f.id)`.as(
        'policy_count',
      ),
    )
    .where('e.type', 'in', filter.environmentTypes);
  if (filter.kind !== undefined) query = query.where('f.kind', '=', filter.kind);
  if (name !== undefined) query = query.where(sql<boolean>`f.name_key like ${name} escape '\\'`);
  let base = db
    .selectFrom('features as f')
    .innerJoin('environments as e', 'e.id', 'f.environment_id')
    .where('f.workspace_id', '=', workspaceId)
    .where('e.type', 'in', filter.environmentTypes);
  if (filter.kind !== undefined) base = base.where('f.kind', '=', filter.kind);
  if (name !== undefined) base = base.where(sql<boolean>`f.name_key like ${name} escape '\\'`);
  const [rows, count] = await Promise.all([
    query.orderBy('f.created_at').orderBy('f.id').limit(page.size).offset(page.offset).execute(),
    base.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

export function insertFeature(db: Executor, row: NewRow<'features'>) {
  return db.insertInto('features').values(row).returningAll().executeTakeFirstOrThrow();
}

export function updateFeature(
  db: Executor,
  id: number,
  changes: Partial<Pick<Row<'features'>, 'name' | 'name_key' | 'description' | 'updated_at'>>,
) {
  return db.updateTable('features').set(changes).where('id', '=', id).execute();
}

export function deleteFeature(db: Executor, id: number) {
  return db.deleteFrom('features').where('id', '=', id).execute();
}

export interface FeatureGrantRow {
  id: number;
  feature_id: number;
  end_user_id: number | null;
  group_id: number | null;
  created_at: string;
  user_name: string | null;
  user_email: string | null;
  group_name: string | null;
  group_system: number | null;
}

function featureGrants(db: Executor, featureId: number) {
  return db
    .selectFrom('feature_grants as fg')
    .leftJoin('end_users as u', 'u.id', 'fg.end_user_id')
    .leftJoin('end_user_groups as g', 'g.id', 'fg.group_id')
    .select([
      'fg.id',
      'fg.feature_id',
      'fg.end_user_id',
      'fg.group_id',
      'fg.created_at',
      'u.name as user_name',
      'u.email as user_email',
      'g.name as group_name',
      'g.system as group_system',
    ])
    .where('fg.feature_id', '=', featureId);
}

/** One page of a feature's grants, oldest first, with how many it has. */
export async function listFeatureGrants(
  db: Executor,
  featureId: number,
  page: PageRequest,
): Promise<{ rows: FeatureGrantRow[]; total: number }> {
  const [rows, count] = await Promise.all([
    featureGrants(db, featureId)
      .orderBy('fg.created_at')
      .orderBy('fg.id')
      .limit(page.size)
      .offset(page.offset)
      .execute(),
    countFeatureGrants(db, featureId),
  ]);
  return { rows, total: count };
}

export async function countFeatureGrants(db: Executor, featureId: number): Promise<number> {
  const count = await db
    .selectFrom('feature_grants')
    .where('feature_id', '=', featureId)
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(count.n);
}

/**
 * The feature's grants to these users and groups (what a grant or revoke request named): read by
 * the (feature, user) and (feature, group) unique indexes, whatever the feature's size.
 */
export async function findFeatureGrantsOf(
  db: Executor,
  featureId: number,
  grantees: { endUserIds: number[]; groupIds: number[] },
): Promise<FeatureGrantRow[]> {
  const rows: FeatureGrantRow[] = [];
  if (grantees.endUserIds.length > 0)
    rows.push(
      ...(await featureGrants(db, featureId)
        .where('fg.end_user_id', 'in', grantees.endUserIds)
        .execute()),
    );
  if (grantees.groupIds.length > 0)
    rows.push(
      ...(await featureGrants(db, featureId)
        .where('fg.group_id', 'in', grantees.groupIds)
        .execute()),
    );
  return rows.sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id - b.id);
}

export async function insertFeatureGrants(
  db: Executor,
  workspaceId: number,
  featureId: number,
  grants: { endUserIds: number[]; groupIds: number[] },
  now: string,
): Promise<void> {
  const rows = [
    ...grants.endUserIds.map((id) => ({
      workspace_id: workspaceId,
      feature_id: featureId,
      end_user_id: id,
      group_id: null,
      created_at: now,
    })),
    ...grants.groupIds.map((id) => ({
      workspace_id: workspaceId,
      feature_id: featureId,
      end_user_id: null,
      group_id: id,
      created_at: now,
    })),
  ];
  // One statement per kind: each has its own unique constraint to ignore re-grants on.
  for (const row of rows) {
    await db
      .insertInto('feature_grants')
      .values(row)
      .onConflict((oc) =>
        oc
          .columns(
            row.end_user_id === null ? ['feature_id', 'group_id'] : ['feature_id', 'end_user_id'],
          )
          .doNothing(),
      )
      .execute();
  }
}

export async function deleteFeatureGrants(
  db: Executor,
  featureId: number,
  grants: { endUserIds: number[]; groupIds: number[] },
): Promise<number> {
  let removed = 0;
  if (grants.endUserIds.length > 0) {
    const result = await db
      .deleteFrom('feature_grants')
      .where('feature_id', '=', featureId)
      .where('end_user_id', 'in', grants.endUserIds)
      .executeTakeFirst();
    removed += Number(result.numDeletedRows);
  }
  if (grants.groupIds.length > 0) {
    const result = await db
      .deleteFrom('feature_grants')
      .where('feature_id', '=', featureId)
      .where('group_id', 'in', grants.groupIds)
      .executeTakeFirst();
    removed += Number(result.numDeletedRows);
  }
  return removed;
}

/** Direct grants of one user on features of one environment (removed when the environment is revoked). */
export function listDirectGrantsInEnvironment(
  db: Executor,
  endUserId: number,
  environmentId: number,
) {
  return db
    .selectFrom('feature_grants as fg')
    .innerJoin('features as f', 'f.id', 'fg.feature_id')
    .select(['fg.id', 'fg.feature_id'])
    .where('fg.end_user_id', '=', endUserId)
    .where('f.environment_id', '=', environmentId)
    .execute();
}

/** Removes a user's direct grants on features of one environment; answers their feature IDs. */
export async function deleteDirectGrantsInEnvironment(
  db: Executor,
  endUserId: number,
  environmentId: number,
): Promise<number[]> {
  const grants = await listDirectGrantsInEnvironment(db, endUserId, environmentId);
  for (const g of grants)
    await deleteFeatureGrants(db, g.feature_id, { endUserIds: [endUserId], groupIds: [] });
  return grants.map((g) => g.feature_id);
}

/** Every grant reaching a user: direct ones and those of the given groups, with the feature. */
export function listGrantsForUser(db: Executor, endUserId: number, groupIds: number[]) {
  return db
    .selectFrom('feature_grants as fg')
    .innerJoin('features as f', 'f.id', 'fg.feature_id')
    .innerJoin('environments as e', 'e.id', 'f.environment_id')
    .leftJoin('end_user_groups as g', 'g.id', 'fg.group_id')
    .select([
      'fg.id',
      'fg.end_user_id',
      'fg.group_id',
      'g.name as group_name',
      'f.id as feature_id',
      'f.name as feature_name',
      'f.kind as feature_kind',
      'f.environment_id',
      'e.type as environment_type',
    ])
    .where((eb) =>
      groupIds.length === 0
        ? eb('fg.end_user_id', '=', endUserId)
        : eb.or([eb('fg.end_user_id', '=', endUserId), eb('fg.group_id', 'in', groupIds)]),
    )
    .orderBy('e.id')
    .orderBy('f.id')
    .orderBy('fg.id')
    .execute();
}

// --- the upstream of an MCP server feature (the gateway's target, modules/gateway) -------------

export function findFeatureUpstream(db: Executor, featureId: number) {
  return db
    .selectFrom('feature_upstreams')
    .selectAll()
    .where('feature_id', '=', featureId)
    .executeTakeFirst();
}

export function findFeatureUpstreams(db: Executor, featureIds: number[]) {
  if (featureIds.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('feature_upstreams')
    .selectAll()
    .where('feature_id', 'in', featureIds)
    .execute();
}

export async function upsertFeatureUpstream(db: Executor, row: NewRow<'feature_upstreams'>) {
  await db
    .insertInto('feature_upstreams')
    .values(row)
    .onConflict((oc) =>
      oc.column('feature_id').doUpdateSet({
        url: row.url,
        headers_encrypted: row.headers_encrypted,
        updated_at: row.updated_at,
      }),
    )
    .execute();
}

export async function deleteFeatureUpstream(db: Executor, featureId: number) {
  await db.deleteFrom('feature_upstreams').where('feature_id', '=', featureId).execute();
}
