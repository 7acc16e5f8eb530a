import { sql } from 'kysely';
import type { Executor, NewRow, Row } from '../../storage/database.js';
import { firstRowRead, rowsRead, type PlannedRead } from '../../storage/pipeline.js';
import { prepared } from '../../storage/prepared.js';
import { likeContains, type PageRequest } from '../../lib/pagination.js';

// The hot reads and writes of collaborators are compiled once per database (storage/prepared.ts).
const memberById = prepared((db, p: { workspaceId: number; id: number }) =>
  db
    .selectFrom('members')
    .selectAll()
    .where('workspace_id', '=', p.workspaceId)
    .where('id', '=', p.id),
);

export function findMemberById(
  db: Executor,
  workspaceId: number,
  id: number,
): Promise<Row<'members'> | undefined> {
  return memberById.takeFirst(db, { workspaceId, id });
}

const memberByEmailKey = prepared((db, p: { workspaceId: number; emailKey: string }) =>
  db
    .selectFrom('members')
    .selectAll()
    .where('workspace_id', '=', p.workspaceId)
    .where('email_key', '=', p.emailKey),
);

export function findMemberByEmailKey(db: Executor, workspaceId: number, emailKey: string) {
  return memberByEmailKey.takeFirst(db, { workspaceId, emailKey });
}

/** findMemberByEmailKey as a read to send with others (storage/pipeline.ts, readTogether). */
export function planMemberByEmailKey(
  db: Executor,
  workspaceId: number,
  emailKey: string,
): PlannedRead<Row<'members'> | undefined> {
  return firstRowRead(memberByEmailKey.compile(db, { workspaceId, emailKey }));
}

export function insertMember(db: Executor, row: NewRow<'members'>) {
  return db.insertInto('members').values(row).returningAll().executeTakeFirstOrThrow();
}

/**
 * Deletes a collaborator. Their environment roles, group memberships, project grants, console
 * credentials and SCIM links go with them (foreign keys cascade): the one deletion rule for the
 * API (DELETE /api/members/:id) and SCIM (DELETE /Users/:id).
 */
export function deleteMember(db: Executor, id: number) {
  return db.deleteFrom('members').where('id', '=', id).execute();
}

/**
 * The workspace's collaborators count, kept by the database in the same transaction as every
 * insert and delete of a member (migration 0034's triggers): one row read, whatever the size.
 * The table is declared here, not in storage/database.ts, because only this read uses it.
 */
const memberCount = prepared((db, p: { workspaceId: number }) =>
  db
    .withTables<{ member_counts: { workspace_id: number; n: number } }>()
    .selectFrom('member_counts')
    .select('n')
    .where('workspace_id', '=', p.workspaceId),
);

async function countMembers(db: Executor, workspaceId: number): Promise<number> {
  const row = await memberCount.takeFirst(db, { workspaceId });
  return row?.n ?? 0;
}

/** A page of the workspace's collaborators, unfiltered (the mixed load's list). */
const memberPage = prepared((db, p: { workspaceId: number; size: number; offset: number }) =>
  db
    .selectFrom('members')
    .where('workspace_id', '=', p.workspaceId)
    .selectAll()
    .orderBy('created_at')
    .orderBy('id')
    .limit(p.size)
    .offset(p.offset),
);

export async function listMembers(
  db: Executor,
  workspaceId: number,
  filter: { email?: string | undefined },
  page: PageRequest,
): Promise<{ rows: Row<'members'>[]; total: number }> {
  let query = db.selectFrom('members').where('workspace_id', '=', workspaceId);
  const email = filter.email;
  const filtered = email !== undefined && email !== '';
  if (filtered) {
    query = query.where(sql<boolean>`email_key like ${likeContains(email)} escape '\\'`);
  }
  if (!filtered) {
    // A filter's matches are counted; the whole workspace's total is kept (0034).
    const [rows, total] = await Promise.all([
      memberPage.execute(db, { workspaceId, size: page.size, offset: page.offset }),
      countMembers(db, workspaceId),
    ]);
    return { rows, total };
  }
  const [rows, total] = await Promise.all([
    query
      .selectAll()
      .orderBy('created_at')
      .orderBy('id')
      .limit(page.size)
      .offset(page.offset)
      .execute(),
    query
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .executeTakeFirstOrThrow()
      .then((count) => Number(count.n)),
  ]);
  return { rows, total };
}

export interface MemberRoleRow {
  member_id: number;
  environment_id: number;
  environment_type: string;
  role_type: string;
  role_name: string | null;
  legacy_role_id: number | null;
  environment_role_id: number | null;
}

// Only what the callers read: the roles' privileges and configuration (JSON text) were copied out
// of the database and into a string on the main thread for every row of every page, unread.
const rolesOfMembers = prepared(
  (db, p: { memberIds: number[] }) =>
    db
      .selectFrom('member_environment_roles as mer')
      .innerJoin('environments as e', 'e.id', 'mer.environment_id')
      .leftJoin('legacy_roles as lr', 'lr.id', 'mer.legacy_role_id')
      .leftJoin('environment_roles as er', 'er.id', 'mer.environment_role_id')
      .select([
        'mer.member_id',
        'mer.environment_id',
        'e.type as environment_type',
        'mer.role_type',
        sql<string | null>`coalesce(lr.name, er.name)`.as('role_name'),
        'mer.legacy_role_id',
        'mer.environment_role_id',
      ])
      .where('mer.member_id', 'in', p.memberIds)
      .orderBy('e.id'),
  { lists: ['memberIds'] },
);

export function listRolesOfMembers(db: Executor, memberIds: number[]): Promise<MemberRoleRow[]> {
  if (memberIds.length === 0) return Promise.resolve([]);
  return rolesOfMembers.execute(db, { memberIds });
}

/** listRolesOfMembers as a read to send with others (storage/pipeline.ts, readTogether). */
export function planRolesOfMembers(
  db: Executor,
  memberIds: number[],
): PlannedRead<MemberRoleRow[]> {
  return rowsRead(memberIds.length === 0 ? undefined : rolesOfMembers.compile(db, { memberIds }));
}

/** A role assignment as setMemberEnvironmentRoles takes it, from a resolved `env_roles` entry. */
export function toRoleRow(resolved: {
  environment: { id: number };
  roleType: string;
  legacyRoleId: number | null;
  environmentRoleId: number | null;
}) {
  return {
    environmentId: resolved.environment.id,
    roleType: resolved.roleType,
    legacyRoleId: resolved.legacyRoleId,
    environmentRoleId: resolved.environmentRoleId,
  };
}

type RoleAssignmentRow = {
  environmentId: number;
  roleType: string;
  legacyRoleId: number | null;
  environmentRoleId: number | null;
};

export async function setMemberEnvironmentRoles(
  db: Executor,
  workspaceId: number,
  memberId: number,
  roles: RoleAssignmentRow[],
): Promise<void> {
  const statement = setMemberEnvironmentRolesStatement(db, workspaceId, memberId, roles);
  if (statement !== undefined) await db.executeQuery(statement);
}

/**
 * The statement of setMemberEnvironmentRoles (none for no roles), to send with the event that
 * records it (recordChangeWith).
 */
export function setMemberEnvironmentRolesStatement(
  db: Executor,
  workspaceId: number,
  memberId: number,
  roles: RoleAssignmentRow[],
) {
  // One statement for every environment (it was one each: a round trip per row). An environment
  // named twice keeps its last role, as one upsert after another did; PostgreSQL refuses a
  // statement that updates one row twice, so only the last is sent.
  const byEnvironment = new Map(roles.map((role) => [role.environmentId, role]));
  if (byEnvironment.size === 0) return undefined;
  const rows = [...byEnvironment.values()];
  return setRoles.compile(db, {
    workspaceId,
    memberId,
    environmentIds: rows.map((role) => role.environmentId),
    roleTypes: rows.map((role) => role.roleType),
    legacyRoleIds: rows.map((role) => role.legacyRoleId),
    environmentRoleIds: rows.map((role) => role.environmentRoleId),
  });
}

/**
 * The upsert of a collaborator's roles, compiled once per number of environments: its rows are
 * given column by column, lists of one length (storage/prepared.ts).
 */
const setRoles = prepared(
  (
    db,
    p: {
      workspaceId: number;
      memberId: number;
      environmentIds: number[];
      roleTypes: string[];
      legacyRoleIds: (number | null)[];
      environmentRoleIds: (number | null)[];
    },
  ) =>
    db
      .insertInto('member_environment_roles')
      .values(
        // Markers while this compiles, all lists of one length: the `??` only satisfies the
        // index's type, it never applies.
        p.environmentIds.map((environmentId, i) => ({
          workspace_id: p.workspaceId,
          member_id: p.memberId,
          environment_id: environmentId,
          role_type: p.roleTypes[i] ?? '',
          legacy_role_id: p.legacyRoleIds[i] ?? null,
          environment_role_id: p.environmentRoleIds[i] ?? null,
        })),
      )
      .onConflict((oc) =>
        oc.columns(['member_id', 'environment_id']).doUpdateSet((eb) => ({
          role_type: eb.ref('excluded.role_type'),
          legacy_role_id: eb.ref('excluded.legacy_role_id'),
          environment_role_id: eb.ref('excluded.environment_role_id'),
        })),
      ),
  { lists: ['environmentIds', 'roleTypes', 'legacyRoleIds', 'environmentRoleIds'] },
);
