import { sql } from 'kysely';
import type { Executor } from '../../storage/database.js';
import { prepared } from '../../storage/prepared.js';
import type { PageRequest } from '../../lib/pagination.js';
import type { ClientScope } from '../../lib/context.js';

export interface GrantRow {
  id: string;
  workspace_id: number;
  project_id: number;
  project_name: string;
  environment_id: number;
  environment_type: string;
  project_role_id: string;
  project_role_name: string;
  member_id: number | null;
  member_name: string | null;
  member_email: string | null;
  group_id: string | null;
  group_name: string | null;
  group_system: number | null;
  created_at: string;
  updated_at: string;
  expires_at: string | null;
}

function grants(db: Executor, workspaceId: number) {
  return db
    .selectFrom('project_grants as g')
    .innerJoin('projects as p', 'p.id', 'g.project_id')
    .innerJoin('environments as e', 'e.id', 'p.environment_id')
    .innerJoin('project_roles as r', 'r.id', 'g.project_role_id')
    .leftJoin('members as m', 'm.id', 'g.member_id')
    .leftJoin('collaborator_groups as cg', 'cg.id', 'g.group_id')
    .select([
      'g.id',
      'g.workspace_id',
      'g.project_id',
      'p.name as project_name',
      'p.environment_id',
      'e.type as environment_type',
      'g.project_role_id',
      'r.name as project_role_name',
      'g.member_id',
      'm.name as member_name',
      'm.email as member_email',
      'g.group_id',
      'cg.name as group_name',
      'cg.system as group_system',
      'g.created_at',
      'g.updated_at',
      'g.expires_at',
    ])
    .where('g.workspace_id', '=', workspaceId);
}

const grantById = prepared((db, p: { workspaceId: number; id: string }) =>
  grants(db, p.workspaceId).where('g.id', '=', p.id),
);

export function findGrantById(
  db: Executor,
  workspaceId: number,
  id: string,
): Promise<GrantRow | undefined> {
  return grantById.takeFirst(db, { workspaceId, id });
}

const deleteGrant = prepared((db, p: { id: string }) =>
  db.deleteFrom('project_grants').where('id', '=', p.id),
);

/** A grant's delete, to send with the event that records it (recordChangeWith). */
export function deleteGrantStatement(db: Executor, id: string) {
  return deleteGrant.compile(db, { id });
}

export type GrantFilter = { projectId: number } | { memberId: number } | { groupId: string };

export async function listGrants(
  db: Executor,
  workspaceId: number,
  filter: GrantFilter,
  page: PageRequest,
  scope: ClientScope,
): Promise<{ rows: GrantRow[]; total: number }> {
  if ('projectId' in filter) {
    // A project's list (the mixed load's): a page and its total that cost the same whatever the
    // number of the project's grants. Compiled once (storage/prepared.ts), with or without the
    // credential's project limit.
    const params = {
      workspaceId,
      projectId: filter.projectId,
      environmentTypes: [...scope.environmentTypes, ''],
      projectIds: [...(scope.projectIds ?? []), 0],
      size: page.size,
      offset: page.offset,
      lastOffset: page.offset + page.size - 1,
    };
    const limited = scope.projectIds !== null;
    const [rows, total] = await Promise.all([
      (limited ? projectPageLimited : projectPage).execute(db, params),
      (limited ? projectGrantCountLimited : projectGrantCount).takeFirst(db, params),
    ]);
    return { rows, total: total?.n ?? 0 };
  }
  let query = grants(db, workspaceId).where('e.type', 'in', [...scope.environmentTypes, '']);
  let base = db
    .selectFrom('project_grants as g')
    .innerJoin('projects as p', 'p.id', 'g.project_id')
    .innerJoin('environments as e', 'e.id', 'p.environment_id')
    .where('g.workspace_id', '=', workspaceId)
    .where('e.type', 'in', [...scope.environmentTypes, '']);
  if (scope.projectIds !== null) {
    query = query.where('g.project_id', 'in', [...scope.projectIds, 0]);
    base = base.where('g.project_id', 'in', [...scope.projectIds, 0]);
  }
  if ('memberId' in filter) {
    query = query.where('g.member_id', '=', filter.memberId);
    base = base.where('g.member_id', '=', filter.memberId);
  } else {
    query = query.where('g.group_id', '=', filter.groupId);
    base = base.where('g.group_id', '=', filter.groupId);
  }
  const [rows, count] = await Promise.all([
    orderedPage(query, page),
    // Cast: PostgreSQL's count(*) is a bigint, which pg returns as a string.
    base.select(sql<number>`cast(count(*) as integer)`.as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: count.n };
}

function ordered(query: ReturnType<typeof grants>) {
  return (
    query
      .orderBy('g.created_at')
      // One request writes its grants with the same timestamp, and IDs are random: order the
      // ties by something readable and stable (collaborators before groups, then by role name).
      .orderBy(sql`case when g.member_id is null then 1 else 0 end`)
      .orderBy('g.member_id')
      .orderBy('cg.name')
      .orderBy('r.name')
      .orderBy('g.id')
  );
}

function orderedPage(query: ReturnType<typeof grants>, page: PageRequest): Promise<GrantRow[]> {
  return ordered(query).limit(page.size).offset(page.offset).execute();
}

/** Later than any stored `created_at` (ISO 8601 text): no bound. */
const NO_BOUND = '9999-12-31T23:59:59.999Z';

interface ProjectPageParams {
  workspaceId: number;
  projectId: number;
  /** The credential's environment types, and '' (never empty). */
  environmentTypes: string[];
  /** The credential's projects, and 0 (never empty); used by the limited variants only. */
  projectIds: number[];
  size: number;
  offset: number;
  /** offset + size - 1: the page's last position. */
  lastOffset: number;
}

/**
 * The `created_at` of the project's grant at the page's last position in `created_at` order, read
 * from the index (workspace_id, project_id, created_at) (0034): the list orders by `created_at`
 * first, so every row of this page and of the pages before it is at or before it, and the query
 * reads and sorts those rows only, not all of the project's grants. A page past the end: no bound.
 */
function pageBound(db: Executor, p: ProjectPageParams) {
  const last = db
    .selectFrom('project_grants')
    .select('created_at')
    .where('workspace_id', '=', p.workspaceId)
    .where('project_id', '=', p.projectId)
    .orderBy('created_at')
    .limit(1)
    .offset(p.lastOffset);
  return sql<string>`coalesce((${last}), ${NO_BOUND})`;
}

function prepareProjectPage(limited: boolean) {
  return prepared(
    (db, p: ProjectPageParams) => {
      let query = grants(db, p.workspaceId).where('e.type', 'in', p.environmentTypes);
      if (limited) query = query.where('g.project_id', 'in', p.projectIds);
      query = query
        .where('g.project_id', '=', p.projectId)
        .where('g.created_at', '<=', pageBound(db, p));
      return ordered(query).limit(p.size).offset(p.offset);
    },
    { lists: limited ? ['environmentTypes', 'projectIds'] : ['environmentTypes'] },
  );
}
const projectPage = prepareProjectPage(false);
const projectPageLimited = prepareProjectPage(true);

/**
 * A project's number of grants, kept by the database in the same transaction as each grant's
 * insert and delete (migration 0034's triggers): one row read whatever the number. None when the
 * credential may not see the project (as the page is then empty). The table is declared here, not
 * in storage/database.ts, because only this read uses it.
 */
function prepareProjectGrantCount(limited: boolean) {
  return prepared(
    (db, p: ProjectPageParams) => {
      let query = db
        .withTables<{ project_grant_counts: { project_id: number; n: number } }>()
        .selectFrom('projects as p')
        .innerJoin('environments as e', 'e.id', 'p.environment_id')
        .leftJoin('project_grant_counts as c', 'c.project_id', 'p.id')
        .select('c.n')
        .where('p.workspace_id', '=', p.workspaceId)
        .where('p.id', '=', p.projectId)
        .where('e.type', 'in', p.environmentTypes);
      if (limited) query = query.where('p.id', 'in', p.projectIds);
      return query;
    },
    { lists: limited ? ['environmentTypes', 'projectIds'] : ['environmentTypes'] },
  );
}
const projectGrantCount = prepareProjectGrantCount(false);
const projectGrantCountLimited = prepareProjectGrantCount(true);

export interface GrantValues {
  workspace_id: number;
  project_id: number;
  project_role_id: string;
  member_id: number | null;
  group_id: string | null;
  expires_at: string | null;
}

interface UpsertGrantParams {
  id: string;
  workspaceId: number;
  projectId: number;
  projectRoleId: string;
  memberId: number | null;
  groupId: string | null;
  expiresAt: string | null;
  now: string;
}

/** The grant upsert, compiled once for a collaborator's grants and once for a group's. */
function prepareUpsertGrant(grantee: 'member_id' | 'group_id') {
  return prepared((db, p: UpsertGrantParams) =>
    db
      .insertInto('project_grants')
      .values({
        id: p.id,
        workspace_id: p.workspaceId,
        project_id: p.projectId,
        project_role_id: p.projectRoleId,
        member_id: p.memberId,
        group_id: p.groupId,
        expires_at: p.expiresAt,
        created_at: p.now,
        updated_at: p.now,
      })
      .onConflict((oc) =>
        oc
          .columns(['project_id', 'project_role_id', grantee])
          .doUpdateSet({ expires_at: p.expiresAt, updated_at: p.now }),
      )
      // The stored grant's ID: the new one, or the existing grant's that was refreshed.
      .returning('id'),
  );
}
const upsertMemberGrant = prepareUpsertGrant('member_id');
const upsertGroupGrant = prepareUpsertGrant('group_id');

/** Inserts a grant, or refreshes the expiry of the identical grant that exists. */
export async function upsertGrant(
  db: Executor,
  id: string,
  values: GrantValues,
  now: string,
): Promise<string> {
  const row = await (values.member_id !== null ? upsertMemberGrant : upsertGroupGrant).takeFirst(
    db,
    upsertParams(id, values, now),
  );
  if (row === undefined) throw new Error('the grant upsert returned no row');
  return row.id;
}

/**
 * The grant upsert guarded by its references, compiled once per kind of grantee: the row is
 * written only if the project role and the grantee exist in the workspace, so a request's
 * validation and its write are one statement (the foreign keys alone would let another
 * workspace's role or collaborator through, and fail with a driver error, not the 400).
 */
function prepareUpsertGrantChecked(grantee: 'member_id' | 'group_id') {
  return prepared((db, p: UpsertGrantParams) =>
    db
      .insertInto('project_grants')
      .columns([
        'id',
        'workspace_id',
        'project_id',
        'project_role_id',
        'member_id',
        'group_id',
        'expires_at',
        'created_at',
        'updated_at',
      ])
      .expression(
        db
          .selectNoFrom((eb) => [
            eb.val(p.id).as('id'),
            eb.val(p.workspaceId).as('workspace_id'),
            eb.val(p.projectId).as('project_id'),
            eb.val(p.projectRoleId).as('project_role_id'),
            eb.val(p.memberId).as('member_id'),
            eb.val(p.groupId).as('group_id'),
            eb.val(p.expiresAt).as('expires_at'),
            eb.val(p.now).as('created_at'),
            eb.val(p.now).as('updated_at'),
          ])
          // SQLite needs the WHERE here anyway: without one, its parser would take the upsert's
          // ON CONFLICT for a join's ON.
          .where((eb) =>
            eb.and([
              eb.exists(
                db
                  .selectFrom('project_roles')
                  .select('id')
                  .where('workspace_id', '=', p.workspaceId)
                  .where('id', '=', p.projectRoleId),
              ),
              grantee === 'member_id'
                ? eb.exists(
                    db
                      .selectFrom('members')
                      .select('id')
                      .where('workspace_id', '=', p.workspaceId)
                      .where('id', '=', p.memberId),
                  )
                : eb.exists(
                    db
                      .selectFrom('collaborator_groups')
                      .select('id')
                      .where('workspace_id', '=', p.workspaceId)
                      .where('id', '=', p.groupId),
                  ),
            ]),
          ),
      )
      .onConflict((oc) =>
        oc
          .columns(['project_id', 'project_role_id', grantee])
          .doUpdateSet({ expires_at: p.expiresAt, updated_at: p.now }),
      )
      .returning('id'),
  );
}
const upsertMemberGrantChecked = prepareUpsertGrantChecked('member_id');
const upsertGroupGrantChecked = prepareUpsertGrantChecked('group_id');

/**
 * upsertGrant when the project role and the grantee exist in the workspace: the stored grant's
 * ID, or undefined (nothing written) when either does not.
 */
export async function upsertGrantIfReferencesExist(
  db: Executor,
  id: string,
  values: GrantValues,
  now: string,
): Promise<string | undefined> {
  const row = await (
    values.member_id !== null ? upsertMemberGrantChecked : upsertGroupGrantChecked
  ).takeFirst(db, upsertParams(id, values, now));
  return row?.id;
}

/** The two upserts' parameters. */
function upsertParams(id: string, values: GrantValues, now: string): UpsertGrantParams {
  return {
    id,
    workspaceId: values.workspace_id,
    projectId: values.project_id,
    projectRoleId: values.project_role_id,
    memberId: values.member_id,
    groupId: values.group_id,
    expiresAt: values.expires_at,
    now,
  };
}

type IdTable = 'project_roles' | 'members' | 'collaborator_groups';

function prepareExistingIds(table: IdTable) {
  return prepared(
    (db, p: { workspaceId: number; ids: (number | string)[] }) =>
      db
        .selectFrom(table)
        .select('id')
        .where('workspace_id', '=', p.workspaceId)
        // The table's ids are numbers or strings as the caller's are (T below).
        .where('id', 'in', p.ids as never[]),
    { lists: ['ids'] },
  );
}
const existingIds: Readonly<Record<IdTable, ReturnType<typeof prepareExistingIds>>> = {
  project_roles: prepareExistingIds('project_roles'),
  members: prepareExistingIds('members'),
  collaborator_groups: prepareExistingIds('collaborator_groups'),
};

/**
 * Which of these IDs name a row of the table in the workspace: the grantees and roles a batch
 * of project grants refers to, checked with one query per table instead of one per grant.
 */
export async function findExistingIds<T extends number | string>(
  db: Executor,
  table: IdTable,
  workspaceId: number,
  ids: readonly T[],
): Promise<Set<T>> {
  if (ids.length === 0) return new Set();
  const rows = await existingIds[table].execute(db, { workspaceId, ids: [...ids] });
  return new Set(rows.map((row) => row.id as T));
}
