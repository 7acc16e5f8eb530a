/**
 * The reads the access index is built and refreshed from. Whole-workspace loads at start, narrow
 * reloads per audit-event target afterwards. Nothing here runs on the check path.
 */
import { PostgresAdapter } from 'kysely';
import { jsonArrayFrom as postgresJsonArrayFrom } from 'kysely/helpers/postgres';
import { jsonArrayFrom as sqliteJsonArrayFrom } from 'kysely/helpers/sqlite';
import type { Executor } from '../../storage/database.js';
import { prepared } from '../../storage/prepared.js';

export interface MemberIndexRow {
  id: number;
  name: string;
  email: string;
  email_key: string;
}
export interface MemberRoleIndexRow {
  member_id: number;
  environment_id: number;
  role_type: string;
  legacy_role_id: number | null;
  environment_role_id: number | null;
}
export interface MembershipIndexRow {
  group_id: string;
  member_id: number | null;
  expires_at: string | null;
}
export interface GroupIndexRow {
  id: string;
  name: string;
  system: number;
}
export interface ProjectIndexRow {
  id: number;
  name: string;
  environment_id: number;
}
export interface GrantIndexRow {
  id: string;
  project_id: number;
  project_role_id: string;
  member_id: number | null;
  group_id: string | null;
  created_at: string;
  expires_at: string | null;
}
export interface ProjectRoleIndexRow {
  id: string;
  name: string;
  config: string;
}
export interface EnvironmentRoleIndexRow {
  id: number;
  name: string;
  config: string;
}
export interface LegacyRoleIndexRow {
  id: number;
  name: string;
  privileges: string;
  system: number;
  /** The projects it applies to; null: every project of the environment (project_access 'all'). */
  project_ids: number[] | null;
}

/** Everything the index holds about one workspace. */
export interface WorkspaceIndexRows {
  environments: { id: number; type: string }[];
  legacyRoles: LegacyRoleIndexRow[];
  environmentRoles: EnvironmentRoleIndexRow[];
  projectRoles: ProjectRoleIndexRow[];
  members: MemberIndexRow[];
  memberRoles: MemberRoleIndexRow[];
  groups: GroupIndexRow[];
  projects: ProjectIndexRow[];
  suspensions: SuspensionRow[];
}

/** A collaborator an identity provider has deactivated (SCIM `active: false`) in one environment. */
export interface SuspensionRow {
  member_id: number;
  environment_id: number;
}

/** Deactivations by collaborator SCIM connections: the member keeps their data, not their access. */
async function loadSuspensions(
  db: Executor,
  workspaceId: number,
  memberId?: number,
): Promise<SuspensionRow[]> {
  let query = db
    .selectFrom('scim_users')
    .innerJoin('scim_connections', 'scim_connections.id', 'scim_users.connection_id')
    .select(['scim_users.member_id', 'scim_connections.environment_id'])
    .where('scim_users.workspace_id', '=', workspaceId)
    .where('scim_connections.target', '=', 'collaborators')
    .where('scim_users.active', '=', 0);
  query =
    memberId === undefined
      ? query.where('scim_users.member_id', 'is not', null)
      : query.where('scim_users.member_id', '=', memberId);
  const rows = await query.execute();
  return rows.flatMap((row) =>
    row.member_id === null
      ? []
      : [{ member_id: row.member_id, environment_id: row.environment_id }],
  );
}

// The columns the index reads, one list each, shared by the full load and the targeted reloads.
const memberColumns = ['id', 'name', 'email', 'email_key'] as const;
const memberRoleColumns = [
  'member_id',
  'environment_id',
  'role_type',
  'legacy_role_id',
  'environment_role_id',
] as const;
const collaboratorGroupColumns = ['id', 'name', 'system'] as const;
const membershipColumns = ['group_id', 'member_id', 'expires_at'] as const;
const projectColumns = ['id', 'name', 'environment_id'] as const;
const endUserColumns = ['id', 'name', 'email', 'email_key', 'status'] as const;
const endUserGroupColumns = ['id', 'environment_id', 'name', 'managed_by', 'system'] as const;
/** The slice's feature rows, read whole (loadEndUserSliceRows) or one feature's (loadFeatureRows). */
const featureColumns = ['id', 'environment_id', 'name'] as const;
const featureGrantColumns = ['id', 'feature_id', 'end_user_id', 'group_id'] as const;
const policyColumns = ['id', 'feature_id', 'name', 'tools', 'scope_type', 'effect'] as const;
const policyTargetColumns = ['policy_id', 'end_user_id', 'group_id'] as const;

const grantColumns = [
  'id',
  'project_id',
  'project_role_id',
  'member_id',
  'group_id',
  'created_at',
  'expires_at',
] as const;

export function listWorkspaceIds(db: Executor): Promise<{ id: number }[]> {
  return db.selectFrom('workspaces').select('id').orderBy('id').execute();
}

export async function loadWorkspaceRows(
  db: Executor,
  workspaceId: number,
): Promise<WorkspaceIndexRows | undefined> {
  const workspace = await db
    .selectFrom('workspaces')
    .select('id')
    .where('id', '=', workspaceId)
    .executeTakeFirst();
  if (workspace === undefined) return undefined;
  const [
    environments,
    { legacyRoles, environmentRoles },
    projectRoles,
    members,
    memberRoles,
    groups,
    projects,
    suspensions,
  ] = await Promise.all([
    db
      .selectFrom('environments')
      .select(['id', 'type'])
      .where('workspace_id', '=', workspaceId)
      .orderBy('id')
      .execute(),
    loadEnvironmentRoleRows(db, workspaceId),
    db
      .selectFrom('project_roles')
      .select(['id', 'name', 'config'])
      .where('workspace_id', '=', workspaceId)
      .execute(),
    db
      .selectFrom('members')
      .select(memberColumns)
      .where('workspace_id', '=', workspaceId)
      .execute(),
    db
      .selectFrom('member_environment_roles')
      .select(memberRoleColumns)
      .where('workspace_id', '=', workspaceId)
      .execute(),
    db
      .selectFrom('collaborator_groups')
      .select(collaboratorGroupColumns)
      .where('workspace_id', '=', workspaceId)
      .execute(),
    db
      .selectFrom('projects')
      .select(projectColumns)
      .where('workspace_id', '=', workspaceId)
      .execute(),
    loadSuspensions(db, workspaceId),
  ]);
  return {
    suspensions,
    environments,
    legacyRoles,
    environmentRoles,
    projectRoles,
    members,
    memberRoles,
    groups,
    projects,
  };
}

/**
 * Memberships and grants, the two big tables, are read a page at a time (keyset on the primary
 * key) so the build never holds 300,000 row objects at once: the peak, not the index, decided the
 * server's RSS. Rows that change between pages have change-log events after the build's start
 * position, and the sync after the build reloads them.
 */
export const LOAD_PAGE_SIZE = 5_000;

export function loadMembershipPage(
  db: Executor,
  workspaceId: number,
  afterId: number,
): Promise<(MembershipIndexRow & { id: number })[]> {
  return db
    .selectFrom('group_memberships')
    .select(['id', 'group_id', 'member_id', 'expires_at'])
    .where('workspace_id', '=', workspaceId)
    .where('member_id', 'is not', null)
    .where('id', '>', afterId)
    .orderBy('id')
    .limit(LOAD_PAGE_SIZE)
    .execute();
}

/** How many grants a full load will bring (it sizes the index's grant columns once). */
export async function countGrants(db: Executor, workspaceId: number): Promise<number> {
  const row = await db
    .selectFrom('project_grants')
    .select((eb) => eb.fn.countAll<number | string>().as('count'))
    .where('workspace_id', '=', workspaceId)
    .executeTakeFirst();
  return Number(row?.count ?? 0);
}

export function loadGrantPage(
  db: Executor,
  workspaceId: number,
  afterId: string,
): Promise<GrantIndexRow[]> {
  return db
    .selectFrom('project_grants')
    .select(grantColumns)
    .where('workspace_id', '=', workspaceId)
    .where('id', '>', afterId)
    .orderBy('id')
    .limit(LOAD_PAGE_SIZE)
    .execute();
}

export interface MemberReload {
  member: MemberIndexRow | undefined;
  roles: MemberRoleIndexRow[];
  memberships: MembershipIndexRow[];
  grants: GrantIndexRow[];
  suspensions: SuspensionRow[];
}

/**
 * One collaborator's rows, in ONE statement: each kind of row a JSON array in a column of its own.
 * A write that changes a collaborator (a role, a group membership, an invitation accepted) reloads
 * them before it answers; as five statements that was five round trips to PostgreSQL, each a socket
 * write that wakes a backend, which on a small machine takes the CPU from the main thread
 * answering checks (docs/performance.md, "Fourth round"). Every column read is an integer or text,
 * which JSON carries unchanged.
 */
/** Compiled once per database (storage/prepared.ts): every write that changes a collaborator runs it. */
const memberRows = prepared((db, p: { workspaceId: number; memberId: number }) => {
  // Decided when the query is compiled, once for each database: the SQL differs per dialect.
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  const array = postgres ? postgresJsonArrayFrom : sqliteJsonArrayFrom;
  return db.selectNoFrom((eb) => [
    array(
      eb
        .selectFrom('members')
        .select(memberColumns)
        .where('workspace_id', '=', p.workspaceId)
        .where('id', '=', p.memberId),
    ).as('member'),
    array(
      eb
        .selectFrom('member_environment_roles')
        .select(memberRoleColumns)
        .where('member_id', '=', p.memberId),
    ).as('roles'),
    array(
      eb
        .selectFrom('group_memberships')
        .select(membershipColumns)
        .where('member_id', '=', p.memberId),
    ).as('memberships'),
    array(
      eb.selectFrom('project_grants').select(grantColumns).where('member_id', '=', p.memberId),
    ).as('grants'),
    array(
      eb
        .selectFrom('scim_users')
        .innerJoin('scim_connections', 'scim_connections.id', 'scim_users.connection_id')
        .select(['scim_users.member_id', 'scim_connections.environment_id'])
        .where('scim_users.workspace_id', '=', p.workspaceId)
        .where('scim_connections.target', '=', 'collaborators')
        .where('scim_users.active', '=', 0)
        .where('scim_users.member_id', '=', p.memberId),
    ).as('suspensions'),
  ]);
});

export async function loadMemberRows(
  db: Executor,
  workspaceId: number,
  memberId: number,
): Promise<MemberReload> {
  const row = await memberRows.takeFirst(db, { workspaceId, memberId });
  if (row === undefined) throw new Error('a select without FROM returned no row');
  const members = jsonRows(row.member);
  return {
    member: members[0],
    roles: jsonRows(row.roles),
    memberships: jsonRows(row.memberships),
    grants: jsonRows(row.grants),
    suspensions: jsonRows(row.suspensions).flatMap((suspension) =>
      suspension.member_id === null
        ? []
        : [{ member_id: suspension.member_id, environment_id: suspension.environment_id }],
    ),
  };
}

/** A JSON array column: parsed by pg (a `json` value), a string from SQLite. */
function jsonRows<T>(value: T[] | string): T[] {
  return typeof value === 'string' ? (JSON.parse(value) as T[]) : value;
}

export interface GroupReload {
  group: GroupIndexRow | undefined;
  memberships: MembershipIndexRow[];
  grants: GrantIndexRow[];
}

const groupRow = prepared((db, p: { workspaceId: number; groupId: string }) =>
  db
    .selectFrom('collaborator_groups')
    .select(collaboratorGroupColumns)
    .where('workspace_id', '=', p.workspaceId)
    .where('id', '=', p.groupId),
);
const groupMemberships = prepared((db, p: { groupId: string }) =>
  db
    .selectFrom('group_memberships')
    .select(membershipColumns)
    .where('group_id', '=', p.groupId)
    .where('member_id', 'is not', null),
);
const groupGrants = prepared((db, p: { groupId: string }) =>
  db.selectFrom('project_grants').select(grantColumns).where('group_id', '=', p.groupId),
);

export async function loadGroupRows(
  db: Executor,
  workspaceId: number,
  groupId: string,
): Promise<GroupReload> {
  const [group, memberships, grants] = await Promise.all([
    groupRow.takeFirst(db, { workspaceId, groupId }),
    groupMemberships.execute(db, { groupId }),
    groupGrants.execute(db, { groupId }),
  ]);
  return { group, memberships, grants };
}

export interface ProjectReload {
  project: ProjectIndexRow | undefined;
  grants: GrantIndexRow[];
}

export async function loadProjectRows(
  db: Executor,
  workspaceId: number,
  projectId: number,
): Promise<ProjectReload> {
  const [project, grants] = await Promise.all([
    db
      .selectFrom('projects')
      .select(projectColumns)
      .where('workspace_id', '=', workspaceId)
      .where('id', '=', projectId)
      .executeTakeFirst(),
    db
      .selectFrom('project_grants')
      .select(grantColumns)
      .where('project_id', '=', projectId)
      .execute(),
  ]);
  return { project, grants };
}

const grantRow = prepared((db, p: { workspaceId: number; grantId: string }) =>
  db
    .selectFrom('project_grants')
    .select(grantColumns)
    .where('workspace_id', '=', p.workspaceId)
    .where('id', '=', p.grantId),
);

export function findGrantRow(
  db: Executor,
  workspaceId: number,
  grantId: string,
): Promise<GrantIndexRow | undefined> {
  return grantRow.takeFirst(db, { workspaceId, grantId });
}

export function findProjectRoleRow(
  db: Executor,
  workspaceId: number,
  roleId: string,
): Promise<ProjectRoleIndexRow | undefined> {
  return db
    .selectFrom('project_roles')
    .select(['id', 'name', 'config'])
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', roleId)
    .executeTakeFirst();
}

/** Environment and legacy roles are few; a change to one reloads both lists. */
export async function loadEnvironmentRoleRows(
  db: Executor,
  workspaceId: number,
): Promise<{ legacyRoles: LegacyRoleIndexRow[]; environmentRoles: EnvironmentRoleIndexRow[] }> {
  const [legacy, selections, environmentRoles] = await Promise.all([
    db
      .selectFrom('legacy_roles')
      .select(['id', 'name', 'privileges', 'system', 'project_access'])
      .where('workspace_id', '=', workspaceId)
      .execute(),
    db
      .selectFrom('legacy_role_projects')
      .select(['legacy_role_id', 'project_id'])
      .where('workspace_id', '=', workspaceId)
      .execute(),
    db
      .selectFrom('environment_roles')
      .select(['id', 'name', 'config'])
      .where('workspace_id', '=', workspaceId)
      .execute(),
  ]);
  const selected = new Map<number, number[]>();
  for (const row of selections) {
    const list = selected.get(row.legacy_role_id);
    if (list === undefined) selected.set(row.legacy_role_id, [row.project_id]);
    else list.push(row.project_id);
  }
  const legacyRoles = legacy.map(({ project_access, ...row }) => ({
    ...row,
    project_ids: project_access === 'selected' ? (selected.get(row.id) ?? []) : null,
  }));
  return { legacyRoles, environmentRoles };
}

/** Everything the end-user slice of the index holds about one workspace (end-user-index.ts). */
export interface EndUserSliceRows {
  users: { id: number; name: string; email: string; email_key: string; status: string }[];
  environmentAccess: { end_user_id: number; environment_id: number }[];
  groups: {
    id: number;
    environment_id: number;
    name: string;
    managed_by: string;
    system: number;
  }[];
  groupMembers: { group_id: number; end_user_id: number }[];
  features: { id: number; environment_id: number; name: string }[];
  featureGrants: {
    id: number;
    feature_id: number;
    end_user_id: number | null;
    group_id: number | null;
  }[];
  policies: {
    id: number;
    feature_id: number;
    name: string;
    tools: string;
    scope_type: string;
    effect: string;
  }[];
  policyTargets: { policy_id: number; end_user_id: number | null; group_id: number | null }[];
}

/** The end-user slice is reloaded whole on an end-user write (see docs/decisions.md for the cost). */
export interface EndUserReload {
  user: EndUserSliceRows['users'][number] | undefined;
  environmentIds: number[];
  groupIds: number[];
}

/**
 * One end user as the slice holds them (an `end_user` change-log event names one). The user's
 * row is read in the workspace; their other rows by the user's ID alone, as the collaborator
 * reloads above are: IDs are unique across workspaces, a reload whose row is not in the workspace
 * applies nothing, and on SQLite, which keeps no statistics, `workspace_id = ? and end_user_id = ?`
 * was planned on the workspace's index (migration 0012), reading all of the workspace's rows
 * to find one user's (a reload that grew with the workspace: 26 ms at 100,000 end users).
 */
export async function loadEndUserRows(
  db: Executor,
  workspaceId: number,
  endUserId: number,
): Promise<EndUserReload> {
  const [user, environments, groups] = await Promise.all([
    db
      .selectFrom('end_users')
      .select(endUserColumns)
      .where('workspace_id', '=', workspaceId)
      .where('id', '=', endUserId)
      .executeTakeFirst(),
    db
      .selectFrom('end_user_environments')
      .select('environment_id')
      .where('end_user_id', '=', endUserId)
      .execute(),
    db
      .selectFrom('end_user_group_members')
      .select('group_id')
      .where('end_user_id', '=', endUserId)
      .execute(),
  ]);
  return {
    user,
    environmentIds: environments.map((row) => row.environment_id),
    groupIds: groups.map((row) => row.group_id),
  };
}

export interface EndUserGroupReload {
  group: EndUserSliceRows['groups'][number] | undefined;
  memberIds: number[];
}

/** One end-user group and its members (an `end_user_group` event names one); as loadEndUserRows. */
export async function loadEndUserGroupRows(
  db: Executor,
  workspaceId: number,
  groupId: number,
): Promise<EndUserGroupReload> {
  const [group, members] = await Promise.all([
    db
      .selectFrom('end_user_groups')
      .select(endUserGroupColumns)
      .where('workspace_id', '=', workspaceId)
      .where('id', '=', groupId)
      .executeTakeFirst(),
    db
      .selectFrom('end_user_group_members')
      .select('end_user_id')
      .where('group_id', '=', groupId)
      .execute(),
  ]);
  return { group, memberIds: members.map((row) => row.end_user_id) };
}

/**
 * One feature as the slice holds it, with its grants, policies and their targets (a `feature`
 * or `policy` change-log event names one): rows of that feature only, each in ID order, read by
 * the feature's ID as loadEndUserRows reads a user's.
 */
export interface FeatureReload {
  feature: EndUserSliceRows['features'][number] | undefined;
  grants: EndUserSliceRows['featureGrants'];
  policies: EndUserSliceRows['policies'];
  policyTargets: EndUserSliceRows['policyTargets'];
}

export async function loadFeatureRows(
  db: Executor,
  workspaceId: number,
  featureId: number,
): Promise<FeatureReload> {
  const [feature, grants, policies] = await Promise.all([
    db
      .selectFrom('features')
      .select(featureColumns)
      .where('workspace_id', '=', workspaceId)
      .where('id', '=', featureId)
      .executeTakeFirst(),
    db
      .selectFrom('feature_grants')
      .select(featureGrantColumns)
      .where('feature_id', '=', featureId)
      .orderBy('id')
      .execute(),
    loadFeaturePolicyRows(db, featureId),
  ]);
  return { feature, grants, ...policies };
}

/**
 * A feature's grants to the users and groups a `feature.access_*` event names, in ID order, with
 * those names (a grantee with no row left has none: revoked).
 */
export interface FeatureGranteesReload {
  endUserIds: number[];
  groupIds: number[];
  rows: EndUserSliceRows['featureGrants'];
}

/** Read by the (feature, user) and (feature, group) unique indexes, whatever the feature's size. */
export async function loadFeatureGrantRowsOf(
  db: Executor,
  featureId: number,
  grantees: { endUserIds: number[]; groupIds: number[] },
): Promise<EndUserSliceRows['featureGrants']> {
  const read = (column: 'end_user_id' | 'group_id', ids: number[]) =>
    ids.length === 0
      ? Promise.resolve([])
      : db
          .selectFrom('feature_grants')
          .select(featureGrantColumns)
          .where('feature_id', '=', featureId)
          .where(column, 'in', ids)
          .execute();
  const [users, groups] = await Promise.all([
    read('end_user_id', grantees.endUserIds),
    read('group_id', grantees.groupIds),
  ]);
  return [...users, ...groups].sort((a, b) => a.id - b.id);
}

/** A feature's policies and their targets only (a `policy` event: its grants are unchanged). */
export type FeaturePoliciesReload = Pick<FeatureReload, 'policies' | 'policyTargets'>;

export async function loadFeaturePolicyRows(
  db: Executor,
  featureId: number,
): Promise<FeaturePoliciesReload> {
  const [policies, policyTargets] = await Promise.all([
    db
      .selectFrom('policies')
      .select(policyColumns)
      .where('feature_id', '=', featureId)
      .orderBy('id')
      .execute(),
    db
      .selectFrom('policy_targets')
      .select(policyTargetColumns)
      .where('policy_id', 'in', (eb) =>
        eb.selectFrom('policies').select('id').where('feature_id', '=', featureId),
      )
      .orderBy('id')
      .execute(),
  ]);
  return { policies, policyTargets };
}

/** The feature a policy belongs to, if the policy still exists. */
export async function findPolicyFeatureId(
  db: Executor,
  workspaceId: number,
  policyId: number,
): Promise<number | undefined> {
  const row = await db
    .selectFrom('policies')
    .select('feature_id')
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', policyId)
    .executeTakeFirst();
  return row?.feature_id;
}

/**
 * An end user's direct feature grants (not through a group), in ID order, by the user's ID (as
 * loadEndUserRows): only those of features the slice holds are applied.
 */
export function loadDirectFeatureGrants(
  db: Executor,
  endUserId: number,
): Promise<{ id: number; feature_id: number }[]> {
  return db
    .selectFrom('feature_grants')
    .select(['id', 'feature_id'])
    .where('end_user_id', '=', endUserId)
    .orderBy('id')
    .execute();
}

export async function loadEndUserSliceRows(
  db: Executor,
  workspaceId: number,
): Promise<EndUserSliceRows> {
  const [
    users,
    environmentAccess,
    groups,
    groupMembers,
    features,
    featureGrants,
    policies,
    policyTargets,
  ] = await Promise.all([
    db
      .selectFrom('end_users')
      .select(endUserColumns)
      .where('workspace_id', '=', workspaceId)
      .execute(),
    db
      .selectFrom('end_user_environments')
      .select(['end_user_id', 'environment_id'])
      .where('workspace_id', '=', workspaceId)
      .execute(),
    db
      .selectFrom('end_user_groups')
      .select(endUserGroupColumns)
      .where('workspace_id', '=', workspaceId)
      .orderBy('id')
      .execute(),
    db
      .selectFrom('end_user_group_members')
      .select(['group_id', 'end_user_id'])
      .where('workspace_id', '=', workspaceId)
      .execute(),
    db
      .selectFrom('features')
      .select(featureColumns)
      .where('workspace_id', '=', workspaceId)
      .execute(),
    db
      .selectFrom('feature_grants')
      .select(featureGrantColumns)
      .where('workspace_id', '=', workspaceId)
      .orderBy('id')
      .execute(),
    db
      .selectFrom('policies')
      .select(policyColumns)
      .where('workspace_id', '=', workspaceId)
      .orderBy('id')
      .execute(),
    db
      .selectFrom('policy_targets')
      .select(policyTargetColumns)
      .where('workspace_id', '=', workspaceId)
      .orderBy('id')
      .execute(),
  ]);
  return {
    users,
    environmentAccess,
    groups,
    groupMembers,
    features,
    featureGrants,
    policies,
    policyTargets,
  };
}
