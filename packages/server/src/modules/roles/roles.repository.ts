/**
 * Environment roles and project roles share one shape (name, JSON config, type, inheritable) and
 * differ in their ID type and in what "assigned" means, so one set of queries serves both.
 */
import { sql } from 'kysely';
import type { Executor, Row } from '../../storage/database.js';
import type { PlannedRead } from '../../storage/pipeline.js';
import { prepared } from '../../storage/prepared.js';
import { likeContains, type PageRequest } from '../../lib/pagination.js';

/** `count(*)` as the drivers return it: a number from SQLite, a bigint string from PostgreSQL. */
type DbCount = number | string;

export type RoleKind = 'environment' | 'project';
export type RoleId = number | string;

export interface RoleValues {
  workspace_id: number;
  name: string;
  name_key: string;
  config: string;
  type: string;
  inheritable: number;
  created_at: string;
  updated_at: string;
}

export interface RoleRow extends RoleValues {
  id: RoleId;
  members_count: number;
}

// Both tables have the same columns; typing the dynamic table as `environment_roles` lets one
// query builder serve both (IDs are widened to RoleId where they leave this file).
const TABLE = { environment: 'environment_roles', project: 'project_roles' } as const;
const table = (kind: RoleKind) => TABLE[kind] as 'environment_roles';

function assignmentCount(db: Executor, kind: RoleKind) {
  return kind === 'environment'
    ? sql<DbCount>`(select count(distinct mer.member_id) from member_environment_roles mer where mer.environment_role_id = r.id)`
    : // Distinct assignees (a collaborator or a group), not grants: one collaborator granted the
      // role on three projects is one assignment of the role.
      sql<DbCount>`(select count(distinct coalesce(cast(pg.member_id as text), pg.group_id)) from project_grants pg where pg.project_role_id = r.id)`;
}

function withCounts(db: Executor, kind: RoleKind, workspaceId: number) {
  return db
    .selectFrom(`${table(kind)} as r`)
    .selectAll('r')
    .select(assignmentCount(db, kind).as('members_count'))
    .where('r.workspace_id', '=', workspaceId);
}

const counted = (row: Row<'environment_roles'> & { members_count: DbCount }): RoleRow => ({
  ...row,
  members_count: Number(row.members_count),
});

export async function findRoleById(db: Executor, kind: RoleKind, workspaceId: number, id: RoleId) {
  const row = await withCounts(db, kind, workspaceId)
    .where('r.id', '=', id as number)
    .executeTakeFirst();
  return row === undefined ? undefined : counted(row);
}

export async function findRoleByNameKey(
  db: Executor,
  kind: RoleKind,
  workspaceId: number,
  nameKey: string,
) {
  const row = await withCounts(db, kind, workspaceId)
    .where('r.name_key', '=', nameKey)
    .executeTakeFirst();
  return row === undefined ? undefined : counted(row);
}

/**
 * An environment or legacy role's ID and name, without the assignment count (which grows with the
 * members): what resolving a role by name needs.
 */
export function findRoleRefByNameKey(
  db: Executor,
  table: 'environment_roles' | 'legacy_roles',
  workspaceId: number,
  nameKey: string,
): Promise<{ id: number; name: string } | undefined> {
  return db
    .selectFrom(table)
    .select(['id', 'name'])
    .where('workspace_id', '=', workspaceId)
    .where('name_key', '=', nameKey)
    .executeTakeFirst();
}

/** Roles of one table by name key, in one statement: a map from each key found to its role. */
function prepareRoleRefs(table: 'environment_roles' | 'legacy_roles') {
  return prepared(
    (db, p: { workspaceId: number; nameKeys: string[] }) =>
      db
        .selectFrom(table)
        .select(['id', 'name', 'name_key'])
        .where('workspace_id', '=', p.workspaceId)
        .where('name_key', 'in', p.nameKeys),
    { lists: ['nameKeys'] },
  );
}
/** Every role change and invitation resolves its roles' names: compiled once (storage/prepared.ts). */
const roleRefs = {
  environment_roles: prepareRoleRefs('environment_roles'),
  legacy_roles: prepareRoleRefs('legacy_roles'),
};

interface RoleRefRow {
  id: number;
  name: string;
  name_key: string;
}

/**
 * Roles of one table by name key, as a read to send with others (storage/pipeline.ts): a map from
 * each key found to its role. No statement for no keys.
 */
export function planRoleRefsByNameKeys(
  db: Executor,
  table: 'environment_roles' | 'legacy_roles',
  workspaceId: number,
  nameKeys: readonly string[],
): PlannedRead<Map<string, { id: number; name: string }>> {
  const keys = [...new Set(nameKeys)];
  return {
    statements:
      keys.length === 0 ? [] : [roleRefs[table].compile(db, { workspaceId, nameKeys: keys })],
    finish([result]) {
      const found = new Map<string, { id: number; name: string }>();
      for (const row of (result?.rows ?? []) as RoleRefRow[])
        found.set(row.name_key, { id: row.id, name: row.name });
      return found;
    },
  };
}

export async function listRoles(
  db: Executor,
  kind: RoleKind,
  workspaceId: number,
  filter: { name?: string | undefined },
  page: PageRequest,
): Promise<{ rows: RoleRow[]; total: number }> {
  let query = withCounts(db, kind, workspaceId);
  let base = db.selectFrom(`${table(kind)} as r`).where('r.workspace_id', '=', workspaceId);
  if (filter.name !== undefined && filter.name !== '') {
    const pattern = likeContains(filter.name);
    query = query.where(sql<boolean>`r.name_key like ${pattern} escape '\\'`);
    base = base.where(sql<boolean>`r.name_key like ${pattern} escape '\\'`);
  }
  const [rows, count] = await Promise.all([
    query.orderBy('r.created_at').orderBy('r.id').limit(page.size).offset(page.offset).execute(),
    base.select((eb) => eb.fn.countAll<DbCount>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows: rows.map(counted), total: Number(count.n) };
}

export async function insertRole(
  db: Executor,
  kind: RoleKind,
  values: RoleValues,
  id?: string,
): Promise<RoleId> {
  const row = await db
    .insertInto(table(kind))
    .values(id === undefined ? values : { ...values, id: id as unknown as number })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function updateRole(
  db: Executor,
  kind: RoleKind,
  id: RoleId,
  changes: Pick<RoleValues, 'name' | 'name_key' | 'config' | 'updated_at'>,
): Promise<void> {
  await db
    .updateTable(table(kind))
    .set(changes)
    .where('id', '=', id as number)
    .execute();
}

export async function deleteRole(db: Executor, kind: RoleKind, id: RoleId): Promise<void> {
  await db
    .deleteFrom(table(kind))
    .where('id', '=', id as number)
    .execute();
}

/* Legacy roles (privilege groups). */

export type LegacyRoleRow = Row<'legacy_roles'> & { members_count: number };

function legacyWithCounts(db: Executor, workspaceId: number) {
  return db
    .selectFrom('legacy_roles as r')
    .selectAll('r')
    .select(
      sql<DbCount>`(select count(distinct mer.member_id) from member_environment_roles mer where mer.legacy_role_id = r.id)`.as(
        'members_count',
      ),
    )
    .where('r.workspace_id', '=', workspaceId);
}

export async function findLegacyRoleById(db: Executor, workspaceId: number, id: number) {
  const row = await legacyWithCounts(db, workspaceId).where('r.id', '=', id).executeTakeFirst();
  return row === undefined ? undefined : { ...row, members_count: Number(row.members_count) };
}

export async function findLegacyRoleByNameKey(db: Executor, workspaceId: number, nameKey: string) {
  const row = await legacyWithCounts(db, workspaceId)
    .where('r.name_key', '=', nameKey)
    .executeTakeFirst();
  return row === undefined ? undefined : { ...row, members_count: Number(row.members_count) };
}

export async function listLegacyRoles(
  db: Executor,
  workspaceId: number,
  filter: { name?: string | undefined },
  page: PageRequest,
): Promise<{ rows: LegacyRoleRow[]; total: number }> {
  let query = legacyWithCounts(db, workspaceId);
  let base = db.selectFrom('legacy_roles as r').where('r.workspace_id', '=', workspaceId);
  if (filter.name !== undefined && filter.name !== '') {
    const pattern = likeContains(filter.name);
    query = query.where(sql<boolean>`r.name_key like ${pattern} escape '\\'`);
    base = base.where(sql<boolean>`r.name_key like ${pattern} escape '\\'`);
  }
  const [rows, count] = await Promise.all([
    query
      .orderBy('r.system', 'desc')
      .orderBy('r.id')
      .limit(page.size)
      .offset(page.offset)
      .execute(),
    base.select((eb) => eb.fn.countAll<DbCount>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return {
    rows: rows.map((row) => ({ ...row, members_count: Number(row.members_count) })),
    total: Number(count.n),
  };
}

/** The selected projects of these legacy roles (project_access 'selected'), in project ID order. */
export async function listLegacyRoleProjects(
  db: Executor,
  workspaceId: number,
  roleIds: number[],
): Promise<Map<number, number[]>> {
  const byRole = new Map<number, number[]>();
  if (roleIds.length === 0) return byRole;
  const rows = await db
    .selectFrom('legacy_role_projects')
    .select(['legacy_role_id', 'project_id'])
    .where('workspace_id', '=', workspaceId)
    .where('legacy_role_id', 'in', roleIds)
    .orderBy('legacy_role_id')
    .orderBy('project_id')
    .execute();
  for (const row of rows) {
    const list = byRole.get(row.legacy_role_id);
    if (list === undefined) byRole.set(row.legacy_role_id, [row.project_id]);
    else list.push(row.project_id);
  }
  return byRole;
}

/** Replaces a legacy role's selected projects. */
export async function replaceLegacyRoleProjects(
  db: Executor,
  workspaceId: number,
  roleId: number,
  projectIds: readonly number[],
): Promise<void> {
  await db.deleteFrom('legacy_role_projects').where('legacy_role_id', '=', roleId).execute();
  if (projectIds.length === 0) return;
  await db
    .insertInto('legacy_role_projects')
    .values(
      projectIds.map((projectId) => ({
        workspace_id: workspaceId,
        legacy_role_id: roleId,
        project_id: projectId,
      })),
    )
    .execute();
}

/** The workspace's projects among these IDs, with their environment type (for scope checks). */
export function findProjectsByIds(
  db: Executor,
  workspaceId: number,
  ids: readonly number[],
): Promise<{ id: number; environment_type: string }[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('projects as p')
    .innerJoin('environments as e', 'e.id', 'p.environment_id')
    .select(['p.id', 'e.type as environment_type'])
    .where('p.workspace_id', '=', workspaceId)
    .where('p.id', 'in', [...ids])
    .execute();
}
