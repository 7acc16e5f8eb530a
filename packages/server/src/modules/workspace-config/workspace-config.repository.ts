/**
 * Reads a workspace's configuration whole, as the declarative document sees it: every custom
 * role, group, project, grant, end-user group, feature and policy with the names its references
 * resolve to. One read per table (no per-row queries), all through the executor given, so an
 * apply reads the state it changes inside its own transaction. Writes are not here: an apply goes
 * through the modules' services (workspace-config.service.ts).
 */
import type { Executor } from '../../storage/database.js';
import { fromJson } from '../../storage/json.js';
import { listPolicyChains, type ChainApprovers } from '../approvals/approvals.repository.js';

export interface WorkspaceState {
  environments: { id: number; type: string }[];
  legacyRoles: {
    id: number;
    name: string;
    nameKey: string;
    system: boolean;
    privileges: string;
    projectAccess: string;
    projectIds: number[];
  }[];
  environmentRoles: {
    id: number;
    name: string;
    nameKey: string;
    system: boolean;
    config: string;
  }[];
  projectRoles: { id: string; name: string; nameKey: string; system: boolean; config: string }[];
  groups: {
    id: string;
    name: string;
    nameKey: string;
    description: string | null;
    builtIn: boolean;
  }[];
  projects: {
    id: number;
    environmentId: number;
    environment: string;
    name: string;
    description: string | null;
  }[];
  grants: {
    id: string;
    projectId: number;
    roleId: string;
    memberId: number | null;
    memberEmail: string | null;
    groupId: string | null;
    expiresAt: string | null;
  }[];
  members: { id: number; email: string; emailKey: string }[];
  endUsers: { id: number; email: string; emailKey: string }[];
  endUserGroups: {
    id: number;
    environmentId: number;
    environment: string;
    name: string;
    nameKey: string;
    description: string | null;
    roles: string;
    builtIn: boolean;
    /** Explicit members (Everyone's are implicit: none here). */
    memberIds: number[];
  }[];
  features: {
    id: number;
    environmentId: number;
    environment: string;
    kind: string;
    name: string;
    nameKey: string;
    description: string | null;
    groupIds: number[];
    endUserIds: number[];
    /** An mcp_server feature's upstream: its URL and the names of its (sealed) headers. */
    upstream: { url: string; headerNames: string[] } | null;
  }[];
  policies: {
    id: number;
    environment: string;
    featureId: number;
    name: string;
    nameKey: string;
    description: string | null;
    tools: string;
    scopeType: string;
    effect: string;
    userIds: number[];
    groupIds: number[];
    /** The approver chain, steps in order (empty: none). */
    chain: ChainApprovers[];
  }[];
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

export async function readWorkspaceState(
  db: Executor,
  workspaceId: number,
): Promise<WorkspaceState> {
  const environments = await db
    .selectFrom('environments')
    .select(['id', 'type'])
    .where('workspace_id', '=', workspaceId)
    .orderBy('id')
    .execute();
  const environmentType = new Map(environments.map((env) => [env.id, env.type]));
  const envOf = (id: number) => environmentType.get(id) ?? String(id);

  const legacyRoleProjects = new Map<number, number[]>();
  for (const row of await db
    .selectFrom('legacy_role_projects')
    .select(['legacy_role_id', 'project_id'])
    .where('workspace_id', '=', workspaceId)
    .execute())
    push(legacyRoleProjects, row.legacy_role_id, row.project_id);

  const legacyRoles = (
    await db
      .selectFrom('legacy_roles')
      .select(['id', 'name', 'name_key', 'system', 'privileges', 'project_access'])
      .where('workspace_id', '=', workspaceId)
      .orderBy('id')
      .execute()
  ).map((row) => ({
    id: row.id,
    name: row.name,
    nameKey: row.name_key,
    system: row.system === 1,
    privileges: row.privileges,
    projectAccess: row.project_access,
    projectIds: legacyRoleProjects.get(row.id) ?? [],
  }));

  const environmentRoles = (
    await db
      .selectFrom('environment_roles')
      .select(['id', 'name', 'name_key', 'type', 'config'])
      .where('workspace_id', '=', workspaceId)
      .orderBy('id')
      .execute()
  ).map((row) => ({
    id: row.id,
    name: row.name,
    nameKey: row.name_key,
    system: row.type !== 'custom',
    config: row.config,
  }));
  const projectRoles = (
    await db
      .selectFrom('project_roles')
      .select(['id', 'name', 'name_key', 'type', 'config'])
      .where('workspace_id', '=', workspaceId)
      .orderBy('created_at')
      .orderBy('id')
      .execute()
  ).map((row) => ({
    id: row.id,
    name: row.name,
    nameKey: row.name_key,
    system: row.type !== 'custom',
    config: row.config,
  }));

  const groups = (
    await db
      .selectFrom('collaborator_groups')
      .select(['id', 'name', 'name_key', 'description', 'system', 'managed_by'])
      .where('workspace_id', '=', workspaceId)
      .orderBy('created_at')
      .orderBy('id')
      .execute()
  ).map((row) => ({
    id: row.id,
    name: row.name,
    nameKey: row.name_key,
    description: row.description,
    // The system group and the groups a SCIM connection manages are not the document's to change.
    builtIn: row.system === 1 || row.managed_by === 'external',
  }));

  const projects = (
    await db
      .selectFrom('projects')
      .select(['id', 'environment_id', 'name', 'description'])
      .where('workspace_id', '=', workspaceId)
      .orderBy('id')
      .execute()
  ).map((row) => ({
    id: row.id,
    environmentId: row.environment_id,
    environment: envOf(row.environment_id),
    name: row.name,
    description: row.description,
  }));

  const grants = (
    await db
      .selectFrom('project_grants')
      .leftJoin('members', 'members.id', 'project_grants.member_id')
      .select([
        'project_grants.id',
        'project_grants.project_id',
        'project_grants.project_role_id',
        'project_grants.member_id',
        'members.email',
        'project_grants.group_id',
        'project_grants.expires_at',
      ])
      .where('project_grants.workspace_id', '=', workspaceId)
      .orderBy('project_grants.created_at')
      .orderBy('project_grants.id')
      .execute()
  ).map((row) => ({
    id: row.id,
    projectId: row.project_id,
    roleId: row.project_role_id,
    memberId: row.member_id,
    memberEmail: row.email,
    groupId: row.group_id,
    expiresAt: row.expires_at,
  }));

  const members = (
    await db
      .selectFrom('members')
      .select(['id', 'email', 'email_key'])
      .where('workspace_id', '=', workspaceId)
      .execute()
  ).map((row) => ({ id: row.id, email: row.email, emailKey: row.email_key }));
  const endUsers = (
    await db
      .selectFrom('end_users')
      .select(['id', 'email', 'email_key'])
      .where('workspace_id', '=', workspaceId)
      .execute()
  ).map((row) => ({ id: row.id, email: row.email, emailKey: row.email_key }));

  const groupMembers = new Map<number, number[]>();
  for (const row of await db
    .selectFrom('end_user_group_members')
    .select(['group_id', 'end_user_id'])
    .where('workspace_id', '=', workspaceId)
    .execute())
    push(groupMembers, row.group_id, row.end_user_id);
  const endUserGroups = (
    await db
      .selectFrom('end_user_groups')
      .select([
        'id',
        'environment_id',
        'name',
        'name_key',
        'description',
        'roles',
        'system',
        'managed_by',
      ])
      .where('workspace_id', '=', workspaceId)
      .orderBy('id')
      .execute()
  ).map((row) => ({
    id: row.id,
    environmentId: row.environment_id,
    environment: envOf(row.environment_id),
    name: row.name,
    nameKey: row.name_key,
    description: row.description,
    roles: row.roles,
    // Everyone (implicit membership) and the groups a SCIM connection manages.
    builtIn: row.system === 1 || row.managed_by === 'external',
    memberIds: groupMembers.get(row.id) ?? [],
  }));

  const featureGroups = new Map<number, number[]>();
  const featureUsers = new Map<number, number[]>();
  for (const row of await db
    .selectFrom('feature_grants')
    .select(['feature_id', 'end_user_id', 'group_id'])
    .where('workspace_id', '=', workspaceId)
    .execute()) {
    if (row.group_id !== null) push(featureGroups, row.feature_id, row.group_id);
    if (row.end_user_id !== null) push(featureUsers, row.feature_id, row.end_user_id);
  }
  const upstreams = new Map(
    (
      await db
        .selectFrom('feature_upstreams')
        .select(['feature_id', 'url', 'headers_encrypted'])
        .where('workspace_id', '=', workspaceId)
        .execute()
    ).map((row) => [
      row.feature_id,
      // The names only: the values stay sealed, a document never carries them.
      {
        url: row.url,
        headerNames: Object.keys(fromJson<Record<string, string>>(row.headers_encrypted)),
      },
    ]),
  );
  const features = (
    await db
      .selectFrom('features')
      .select(['id', 'environment_id', 'kind', 'name', 'name_key', 'description'])
      .where('workspace_id', '=', workspaceId)
      .orderBy('id')
      .execute()
  ).map((row) => ({
    id: row.id,
    environmentId: row.environment_id,
    environment: envOf(row.environment_id),
    kind: row.kind,
    name: row.name,
    nameKey: row.name_key,
    description: row.description,
    groupIds: featureGroups.get(row.id) ?? [],
    endUserIds: featureUsers.get(row.id) ?? [],
    upstream: upstreams.get(row.id) ?? null,
  }));

  const policyGroups = new Map<number, number[]>();
  const policyUsers = new Map<number, number[]>();
  for (const row of await db
    .selectFrom('policy_targets')
    .select(['policy_id', 'end_user_id', 'group_id'])
    .where('workspace_id', '=', workspaceId)
    .execute()) {
    if (row.group_id !== null) push(policyGroups, row.policy_id, row.group_id);
    if (row.end_user_id !== null) push(policyUsers, row.policy_id, row.end_user_id);
  }
  const policyRows = await db
    .selectFrom('policies')
    .select([
      'id',
      'environment_id',
      'feature_id',
      'name',
      'name_key',
      'description',
      'tools',
      'scope_type',
      'effect',
    ])
    .where('workspace_id', '=', workspaceId)
    .orderBy('id')
    .execute();
  const chains = await listPolicyChains(
    db,
    policyRows.map((row) => row.id),
  );
  const policies = policyRows.map((row) => ({
    id: row.id,
    environment: envOf(row.environment_id),
    featureId: row.feature_id,
    name: row.name,
    nameKey: row.name_key,
    description: row.description,
    tools: row.tools,
    scopeType: row.scope_type,
    effect: row.effect,
    userIds: policyUsers.get(row.id) ?? [],
    groupIds: policyGroups.get(row.id) ?? [],
    chain: chains.get(row.id) ?? [],
  }));

  return {
    environments,
    legacyRoles,
    environmentRoles,
    projectRoles,
    groups,
    projects,
    grants,
    members,
    endUsers,
    endUserGroups,
    features,
    policies,
  };
}
