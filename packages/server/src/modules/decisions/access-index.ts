/**
 * The in-memory access index: every workspace's members, groups, memberships, projects, project
 * grants and roles, linked so that "may member M do R:P on project X" is a handful of map lookups
 * and a bit test, with no database call. docs/decisions.md describes the design.
 *
 * Freshness. Every write records an audit event in its own transaction, so the audit table is a
 * change log: `sync()` reads the events after the last one seen and reloads exactly what each
 * event names (a member, a group, a project, a grant, a role, or the whole workspace). The app
 * calls `sync()` after every write request, before answering it, so the writer's next check sees
 * the write. Other instances on the same database learn of it through PostgreSQL NOTIFY and, as a
 * safety net (and on SQLite), a periodic poll.
 *
 * Expiry needs no job: grants and memberships keep their `expires_at` and checks compare it with
 * the clock, so an expired one stops counting at that instant.
 */
import pg from 'pg';
import { sql } from 'kysely';
import {
  ENVIRONMENT_RESOURCES,
  LEGACY_CATEGORY_MAPPING,
  PROJECT_RESOURCES,
  describeRoleConfig,
  type LegacyPrivileges,
  type RoleConfig,
} from '@roster/contracts';
import type { Db, Dialect } from '../../storage/database.js';
import { fromJson } from '../../storage/json.js';
import { systemClock, type Clock } from '../../lib/clock.js';
import { evictApiClient } from '../api-clients/api-clients.service.js';
import {
  findGrantRow,
  findLastEventId,
  findProjectRoleRow,
  listChangeEvents,
  listWorkspaceIds,
  loadEndUserSliceRows,
  loadGrantPage,
  loadMembershipPage,
  LOAD_PAGE_SIZE,
  loadEnvironmentRoleRows,
  loadGroupRows,
  loadMemberRows,
  loadProjectRows,
  loadWorkspaceRows,
  type ChangeEventRow,
  type EnvironmentRoleIndexRow,
  type GrantIndexRow,
  type GroupReload,
  type LegacyRoleIndexRow,
  type MemberReload,
  type MembershipIndexRow,
  type ProjectReload,
  type ProjectRoleIndexRow,
  type WorkspaceIndexRows,
} from './decisions.repository.js';
import { EndUserSlice } from './end-user-index.js';

const NEVER = Number.POSITIVE_INFINITY;
const expiryMs = (expiresAt: string | null): number =>
  expiresAt === null ? NEVER : Date.parse(expiresAt);

/** A project role with its privileges compiled to bits of the workspace's permission table. */
export interface RoleEntry {
  id: string;
  name: string;
  config: RoleConfig;
  bits: Uint32Array;
  /** `{label: privileges}` as the privileges endpoints print it. */
  described: Record<string, string[]>;
}

export interface GrantEntry {
  id: string;
  project: ProjectEntry;
  role: RoleEntry;
  member: MemberEntry | null;
  group: GroupEntry | null;
  /** created_at as a number: 300,000 fewer strings; it only orders grants. */
  createdMs: number;
  expiresAt: string | null;
  expiresMs: number;
}

export interface MembershipEntry {
  member: MemberEntry;
  group: GroupEntry;
  expiresAt: string | null;
  expiresMs: number;
}

export interface EnvironmentRoleAssignment {
  environmentId: number;
  roleType: string;
  legacyRoleId: number | null;
  environmentRoleId: number | null;
}

export interface MemberEntry {
  id: number;
  name: string;
  email: string;
  emailKey: string;
  /**
   * Compact on purpose (100,000 members): a few entries each, so arrays scanned in order, not
   * Maps; the check loop walks them without iterator objects. `direct` is null until a grant.
   */
  roles: EnvironmentRoleAssignment[];
  groups: MembershipEntry[];
  /** Direct grants by project ID. */
  direct: Map<number, GrantEntry[]> | null;
}

export interface GroupEntry {
  id: string;
  name: string;
  system: boolean;
  members: Map<number, MembershipEntry>;
  /** The group's grants by project ID. */
  byProject: Map<number, GrantEntry[]>;
}

export interface ProjectEntry {
  id: number;
  name: string;
  environmentId: number;
  environmentType: string;
  grants: Map<string, GrantEntry>;
}

export interface EnvironmentRoleEntry {
  id: number;
  name: string;
  config: RoleConfig;
}
export interface LegacyRoleEntry {
  id: number;
  name: string;
  privileges: LegacyPrivileges;
}

/** One workspace's slice of the index. */
export class WorkspaceIndex {
  environments: { id: number; type: string }[] = [];
  environmentsByType = new Map<string, { id: number; type: string }>();
  legacyRoles = new Map<number, LegacyRoleEntry>();
  environmentRoles = new Map<number, EnvironmentRoleEntry>();
  projectRoles = new Map<string, RoleEntry>();
  members = new Map<number, MemberEntry>();
  membersByEmail = new Map<string, MemberEntry>();
  groups = new Map<string, GroupEntry>();
  /** "All collaborators": every member belongs, with no membership row. */
  systemGroups: GroupEntry[] = [];
  projects = new Map<number, ProjectEntry>();
  grants = new Map<string, GrantEntry>();
  /** Interned (resource, privilege) pairs: resource → privilege → bit number. Bits are never reused. */
  private readonly permissionBits = new Map<string, Map<string, number>>();
  private bitCount = 0;

  constructor(readonly id: number) {}

  /** The bit of a privilege, or -1 when no role of the workspace has ever named it. */
  bitOf(resource: string, privilege: string): number {
    return this.permissionBits.get(resource)?.get(privilege) ?? -1;
  }

  private intern(resource: string, privilege: string): number {
    let privileges = this.permissionBits.get(resource);
    if (privileges === undefined) {
      privileges = new Map();
      this.permissionBits.set(resource, privileges);
    }
    let bit = privileges.get(privilege);
    if (bit === undefined) {
      bit = this.bitCount++;
      privileges.set(privilege, bit);
    }
    return bit;
  }

  /** Sets a role's config in place: grants hold the entry, so they see the change at once. */
  setProjectRole(row: ProjectRoleIndexRow): RoleEntry {
    const config = fromJson<RoleConfig>(row.config);
    const described = describeRoleConfig(config, PROJECT_RESOURCES);
    const bitList: number[] = [];
    for (const [resource, entry] of Object.entries(config)) {
      for (const privilege of projectPrivilegesOf(resource, entry.privileges))
        bitList.push(this.intern(resource, privilege));
    }
    const bits = new Uint32Array((this.bitCount >>> 5) + 1);
    for (const bit of bitList) bits[bit >>> 5] = (bits[bit >>> 5] ?? 0) | (1 << (bit & 31));
    const existing = this.projectRoles.get(row.id);
    if (existing !== undefined) {
      existing.name = row.name;
      existing.config = config;
      existing.bits = bits;
      existing.described = described;
      return existing;
    }
    const role: RoleEntry = { id: row.id, name: row.name, config, bits, described };
    this.projectRoles.set(row.id, role);
    return role;
  }

  /** A grant can name a role the index has not loaded yet; the role's own reload fills it in. */
  private roleFor(id: string): RoleEntry {
    return this.projectRoles.get(id) ?? this.setProjectRole({ id, name: '', config: '{}' });
  }

  setEnvironmentAndLegacyRoles(
    legacy: LegacyRoleIndexRow[],
    environment: EnvironmentRoleIndexRow[],
  ): void {
    this.legacyRoles = new Map(
      legacy.map((r) => [
        r.id,
        { id: r.id, name: r.name, privileges: fromJson<LegacyPrivileges>(r.privileges) },
      ]),
    );
    this.environmentRoles = new Map(
      environment.map((r) => [
        r.id,
        { id: r.id, name: r.name, config: fromJson<RoleConfig>(r.config) },
      ]),
    );
  }

  // --- members ---------------------------------------------------------------------------------

  private upsertMember(row: {
    id: number;
    name: string;
    email: string;
    email_key: string;
  }): MemberEntry {
    let member = this.members.get(row.id);
    // One string when the address is already lower case (the usual case): 100,000 fewer strings.
    const emailKey = row.email_key === row.email ? row.email : row.email_key;
    if (member === undefined) {
      member = {
        id: row.id,
        name: row.name,
        email: row.email,
        emailKey,
        roles: [],
        groups: [],
        direct: null,
      };
      this.members.set(row.id, member);
    } else if (member.emailKey !== row.email_key) {
      this.membersByEmail.delete(member.emailKey);
    }
    member.name = row.name;
    member.email = row.email;
    member.emailKey = emailKey;
    this.membersByEmail.set(emailKey, member);
    return member;
  }

  private dropMember(member: MemberEntry): void {
    for (const membership of member.groups) membership.group.members.delete(member.id);
    for (const grants of [...(member.direct?.values() ?? [])])
      for (const grant of grants) this.removeGrant(grant);
    this.members.delete(member.id);
    if (this.membersByEmail.get(member.emailKey) === member)
      this.membersByEmail.delete(member.emailKey);
  }

  applyMember(memberId: number, reload: MemberReload): void {
    const existing = this.members.get(memberId);
    if (reload.member === undefined) {
      if (existing !== undefined) this.dropMember(existing);
      return;
    }
    const member = this.upsertMember(reload.member);
    member.roles = reload.roles.map(roleAssignment);
    for (const membership of member.groups) membership.group.members.delete(member.id);
    member.groups = [];
    for (const row of reload.memberships) this.addMembership(row);
    for (const grants of [...(member.direct?.values() ?? [])])
      for (const grant of grants) this.removeGrant(grant);
    for (const row of reload.grants) this.addGrant(row);
  }

  // --- groups and memberships -----------------------------------------------------------------

  private addMembership(row: MembershipIndexRow): void {
    if (row.member_id === null) return;
    const member = this.members.get(row.member_id);
    const group = this.groups.get(row.group_id);
    // The missing side's own reload adds the membership when it arrives.
    if (member === undefined || group === undefined) return;
    const membership: MembershipEntry = {
      member,
      group,
      expiresAt: row.expires_at,
      expiresMs: expiryMs(row.expires_at),
    };
    if (group.members.has(member.id))
      member.groups = member.groups.filter((m) => m.group !== group);
    member.groups.push(membership);
    group.members.set(member.id, membership);
  }

  private dropGroup(group: GroupEntry): void {
    for (const membership of group.members.values())
      membership.member.groups = membership.member.groups.filter((m) => m.group !== group);
    for (const grants of [...group.byProject.values()])
      for (const grant of [...grants]) this.removeGrant(grant);
    this.groups.delete(group.id);
    this.systemGroups = this.systemGroups.filter((g) => g !== group);
  }

  applyGroup(groupId: string, reload: GroupReload): void {
    const existing = this.groups.get(groupId);
    if (reload.group === undefined) {
      if (existing !== undefined) this.dropGroup(existing);
      return;
    }
    const group: GroupEntry = existing ?? {
      id: groupId,
      name: '',
      system: false,
      members: new Map(),
      byProject: new Map(),
    };
    group.name = reload.group.name;
    group.system = reload.group.system === 1;
    this.groups.set(groupId, group);
    this.systemGroups = [...this.groups.values()].filter((g) => g.system);
    for (const membership of group.members.values())
      membership.member.groups = membership.member.groups.filter((m) => m.group !== group);
    group.members.clear();
    for (const row of reload.memberships) this.addMembership(row);
    for (const grants of [...group.byProject.values()])
      for (const grant of [...grants]) this.removeGrant(grant);
    for (const row of reload.grants) this.addGrant(row);
  }

  // --- projects and grants --------------------------------------------------------------------

  private addGrant(row: GrantIndexRow): void {
    const existing = this.grants.get(row.id);
    if (existing !== undefined) this.removeGrant(existing);
    const project = this.projects.get(row.project_id);
    const member = row.member_id === null ? null : (this.members.get(row.member_id) ?? null);
    const group = row.group_id === null ? null : (this.groups.get(row.group_id) ?? null);
    // As with memberships: the missing end's reload brings the grant in.
    if (project === undefined || (member === null && group === null)) return;
    const grant: GrantEntry = {
      id: row.id,
      project,
      role: this.roleFor(row.project_role_id),
      member,
      group,
      createdMs: Date.parse(row.created_at),
      expiresAt: row.expires_at,
      expiresMs: expiryMs(row.expires_at),
    };
    this.grants.set(grant.id, grant);
    project.grants.set(grant.id, grant);
    const byProject =
      member !== null
        ? (member.direct ??= new Map<number, GrantEntry[]>())
        : (group as GroupEntry).byProject;
    const list = byProject.get(project.id);
    if (list === undefined) byProject.set(project.id, [grant]);
    else list.push(grant);
  }

  private removeGrant(grant: GrantEntry): void {
    if (this.grants.get(grant.id) !== grant) return;
    this.grants.delete(grant.id);
    grant.project.grants.delete(grant.id);
    const byProject =
      grant.member !== null ? (grant.member.direct ?? undefined) : grant.group?.byProject;
    const list = byProject?.get(grant.project.id);
    if (byProject !== undefined && list !== undefined) {
      const rest = list.filter((g) => g !== grant);
      if (rest.length === 0) byProject.delete(grant.project.id);
      else byProject.set(grant.project.id, rest);
    }
  }

  applyProject(projectId: number, reload: ProjectReload): void {
    const existing = this.projects.get(projectId);
    if (existing !== undefined)
      for (const grant of [...existing.grants.values()]) this.removeGrant(grant);
    if (reload.project === undefined) {
      this.projects.delete(projectId);
      return;
    }
    const environment = this.environments.find((e) => e.id === reload.project?.environment_id);
    const project: ProjectEntry = existing ?? {
      id: projectId,
      name: '',
      environmentId: 0,
      environmentType: '',
      grants: new Map(),
    };
    project.name = reload.project.name;
    project.environmentId = reload.project.environment_id;
    project.environmentType = environment?.type ?? '';
    this.projects.set(projectId, project);
    for (const row of reload.grants) this.addGrant(row);
  }

  applyGrant(grantId: string, row: GrantIndexRow | undefined): void {
    const existing = this.grants.get(grantId);
    if (existing !== undefined) this.removeGrant(existing);
    if (row !== undefined) this.addGrant(row);
  }

  /** Fills an empty workspace index from a full load. */
  load(rows: WorkspaceIndexRows): void {
    this.environments = rows.environments.map((e) => ({ id: e.id, type: e.type }));
    this.environmentsByType = new Map(this.environments.map((e) => [e.type, e]));
    this.setEnvironmentAndLegacyRoles(rows.legacyRoles, rows.environmentRoles);
    for (const row of rows.projectRoles) this.setProjectRole(row);
    for (const row of rows.members) this.upsertMember(row);
    for (const row of rows.memberRoles)
      this.members.get(row.member_id)?.roles.push(roleAssignment(row));
    for (const row of rows.groups) {
      this.groups.set(row.id, {
        id: row.id,
        name: row.name,
        system: row.system === 1,
        members: new Map(),
        byProject: new Map(),
      });
    }
    this.systemGroups = [...this.groups.values()].filter((g) => g.system);
    const environmentTypes = new Map(this.environments.map((e) => [e.id, e.type]));
    for (const row of rows.projects) {
      this.projects.set(row.id, {
        id: row.id,
        name: row.name,
        environmentId: row.environment_id,
        environmentType: environmentTypes.get(row.environment_id) ?? '',
        grants: new Map(),
      });
    }
  }

  /** Memberships and grants arrive in pages after load() (see loadMembershipPage). */
  addMembershipRows(rows: MembershipIndexRow[]): void {
    for (const row of rows) this.addMembership(row);
  }

  addGrantRows(rows: GrantIndexRow[]): void {
    for (const row of rows) this.addGrant(row);
  }

  // --- the hot path ---------------------------------------------------------------------------

  /**
   * May the member use `bit` on the project at `nowMs`? Direct grants, then every unexpired
   * membership's group grants, then the system groups. No allocation, no database.
   */
  allowsProject(member: MemberEntry, projectId: number, bit: number, nowMs: number): boolean {
    if (bit < 0) return false;
    const word = bit >>> 5;
    const mask = 1 << (bit & 31);
    const direct = member.direct?.get(projectId);
    if (direct !== undefined && anyGrantAllows(direct, word, mask, nowMs)) return true;
    const memberships = member.groups;
    for (let i = 0; i < memberships.length; i++) {
      const membership = memberships[i] as MembershipEntry;
      if (membership.expiresMs <= nowMs) continue;
      const grants = membership.group.byProject.get(projectId);
      if (grants !== undefined && anyGrantAllows(grants, word, mask, nowMs)) return true;
    }
    const system = this.systemGroups;
    for (let i = 0; i < system.length; i++) {
      const grants = (system[i] as GroupEntry).byProject.get(projectId);
      if (grants !== undefined && anyGrantAllows(grants, word, mask, nowMs)) return true;
    }
    return false;
  }

  /** The member's role in an environment, if any. */
  roleIn(member: MemberEntry, environmentId: number): EnvironmentRoleAssignment | undefined {
    return member.roles.find((r) => r.environmentId === environmentId);
  }

  /**
   * Every grant that reaches the member, with the membership it comes through (null for direct
   * grants and system groups), expired ones included: callers decide what counts.
   */
  reachingGrants(
    member: MemberEntry,
    projectId: number | null,
  ): { grant: GrantEntry; membership: MembershipEntry | null }[] {
    const found: { grant: GrantEntry; membership: MembershipEntry | null }[] = [];
    const take = (map: Map<number, GrantEntry[]>, membership: MembershipEntry | null) => {
      if (projectId !== null) {
        for (const grant of map.get(projectId) ?? []) found.push({ grant, membership });
      } else {
        for (const grants of map.values())
          for (const grant of grants) found.push({ grant, membership });
      }
    };
    if (member.direct !== null) take(member.direct, null);
    for (const membership of member.groups) take(membership.group.byProject, membership);
    for (const group of this.systemGroups) take(group.byProject, null);
    return found;
  }

  /**
   * The projects a member can use now, each with the union of its privilege bits: the "list a
   * user's projects" primitive.
   */
  projectBitsOf(member: MemberEntry, nowMs: number): Map<number, Uint32Array> {
    const result = new Map<number, Uint32Array>();
    const add = (grant: GrantEntry) => {
      if (grant.expiresMs <= nowMs) return;
      const bits = grant.role.bits;
      const current = result.get(grant.project.id);
      if (current === undefined) {
        result.set(grant.project.id, bits.slice());
        return;
      }
      if (current.length < bits.length) {
        const grown = new Uint32Array(bits.length);
        grown.set(current);
        for (let i = 0; i < bits.length; i++) grown[i] = (grown[i] ?? 0) | (bits[i] ?? 0);
        result.set(grant.project.id, grown);
        return;
      }
      for (let i = 0; i < bits.length; i++) current[i] = (current[i] ?? 0) | (bits[i] ?? 0);
    };
    if (member.direct !== null)
      for (const grants of member.direct.values()) for (const grant of grants) add(grant);
    for (const membership of member.groups) {
      if (membership.expiresMs <= nowMs) continue;
      for (const grants of membership.group.byProject.values())
        for (const grant of grants) add(grant);
    }
    for (const group of this.systemGroups)
      for (const grants of group.byProject.values()) for (const grant of grants) add(grant);
    return result;
  }

  /** Environment-level privilege from the member's role in that environment (new or legacy). */
  allowsEnvironment(
    member: MemberEntry,
    environmentId: number,
    resource: string,
    privilege: string,
  ): boolean {
    const assignment = this.roleIn(member, environmentId);
    if (assignment === undefined) return false;
    return environmentRoleAllows(this, assignment, resource, privilege);
  }
}

/** Does one of these grants give the bit (word, mask) and is still live at nowMs? Indexed loop: no iterator. */
function anyGrantAllows(grants: GrantEntry[], word: number, mask: number, nowMs: number): boolean {
  for (let i = 0; i < grants.length; i++) {
    const grant = grants[i] as GrantEntry;
    if (grant.expiresMs > nowMs && ((grant.role.bits[word] ?? 0) & mask) !== 0) return true;
  }
  return false;
}

function roleAssignment(row: {
  environment_id: number;
  role_type: string;
  legacy_role_id: number | null;
  environment_role_id: number | null;
}): EnvironmentRoleAssignment {
  return {
    environmentId: row.environment_id,
    roleType: row.role_type,
    legacyRoleId: row.legacy_role_id,
    environmentRoleId: row.environment_role_id,
  };
}

/** The privileges a project-role config entry expands to, as describeRoleConfig expands them. */
export function projectPrivilegesOf(
  resource: string,
  privileges: 'all' | string[],
): readonly string[] {
  if (privileges !== 'all') return privileges;
  return PROJECT_RESOURCES[resource]?.privileges ?? ['all'];
}

function environmentPrivilegesOf(
  resource: string,
  privileges: 'all' | string[],
): readonly string[] {
  if (privileges !== 'all') return privileges;
  return ENVIRONMENT_RESOURCES[resource]?.privileges ?? ['all'];
}

/**
 * Legacy privilege groups name categories by label ("Folders") and sometimes other privilege
 * names ("read" for folder "view"); a check names the new resource key. The catalogue maps them.
 */
export function legacyAllows(
  privileges: LegacyPrivileges,
  resource: string,
  privilege: string,
): boolean {
  for (const [category, list] of Object.entries(privileges)) {
    const mapping = LEGACY_CATEGORY_RESOURCES.get(category);
    const matches = category === resource || mapping?.resource === resource;
    if (!matches) continue;
    for (const legacy of list) {
      const renamed = mapping?.rename?.[legacy] ?? legacy;
      if (renamed === privilege || legacy === privilege) return true;
    }
  }
  return false;
}

const LEGACY_CATEGORY_RESOURCES = new Map(Object.entries(LEGACY_CATEGORY_MAPPING));

export function environmentRoleAllows(
  index: WorkspaceIndex,
  assignment: EnvironmentRoleAssignment,
  resource: string,
  privilege: string,
): boolean {
  if (assignment.roleType === 'environment') {
    const role =
      assignment.environmentRoleId === null
        ? undefined
        : index.environmentRoles.get(assignment.environmentRoleId);
    const entry = role?.config[resource];
    return (
      entry !== undefined && environmentPrivilegesOf(resource, entry.privileges).includes(privilege)
    );
  }
  const legacy =
    assignment.legacyRoleId === null ? undefined : index.legacyRoles.get(assignment.legacyRoleId);
  return legacy !== undefined && legacyAllows(legacy.privileges, resource, privilege);
}

// --- keeping it current ----------------------------------------------------------------------

/** How long an ID skipped by the change log stays on the watch list (see sync). */
const MISSING_ID_TTL_MS = 60_000;
const EVENTS_PER_READ = 5_000;
/** Above this many targets in one workspace and one sync, a full reload is cheaper and simpler. */
const FULL_RELOAD_THRESHOLD = 500;
export const CHANGE_CHANNEL = 'roster_changes';

export interface AccessIndexOptions {
  db: Db;
  dialect: Dialect;
  clock: Clock;
  /** The PostgreSQL URL to LISTEN on; absent on SQLite. */
  databaseUrl?: string;
  /** The safety-net poll, in ms; 0 disables it. */
  pollIntervalMs?: number;
  onError?: (error: unknown) => void;
}

interface Dirty {
  full: boolean;
  members: Set<number>;
  groups: Set<string>;
  projects: Set<number>;
  grants: Set<string>;
  projectRoles: Set<string>;
  environmentRoles: boolean;
  /** Any end-user write: the workspace's end-user slice is reloaded whole. */
  endUsers: boolean;
}

const emptyDirty = (): Dirty => ({
  full: false,
  members: new Set(),
  groups: new Set(),
  projects: new Set(),
  grants: new Set(),
  projectRoles: new Set(),
  environmentRoles: false,
  endUsers: false,
});

export class AccessIndex {
  private readonly workspaces = new Map<number, WorkspaceIndex>();
  private readonly endUserSlices = new Map<number, EndUserSlice>();
  private lastSeen = 0;
  /** IDs below lastSeen not seen yet: on PostgreSQL a transaction can commit after a later one. */
  private readonly missing = new Map<number, number>();
  private running: Promise<void> | null = null;
  private queued: Promise<void> | null = null;
  private poller: NodeJS.Timeout | null = null;
  private listener: pg.Client | null = null;
  private stopped = false;
  /** Counters for docs, tests and operators. */
  readonly stats = { syncs: 0, events: 0, fullReloads: 0, lastBuildMs: 0 };

  constructor(private readonly options: AccessIndexOptions) {}

  workspace(id: number): WorkspaceIndex | undefined {
    return this.workspaces.get(id);
  }

  /** The workspace's end users, features and policies (end-user-index.ts). */
  endUsers(id: number): EndUserSlice | undefined {
    return this.endUserSlices.get(id);
  }

  /** The time of a check; no Date is made with the system clock (tests inject a clock they move). */
  nowMs(): number {
    return this.options.clock === systemClock ? Date.now() : this.options.clock.now().getTime();
  }

  /** Builds every workspace, then starts listening and polling. */
  async start(): Promise<void> {
    await this.rebuild();
    const interval = this.options.pollIntervalMs ?? 1_000;
    if (interval > 0) {
      this.poller = setInterval(() => {
        this.sync().catch((error: unknown) => this.options.onError?.(error));
      }, interval);
      this.poller.unref();
    }
    if (this.options.dialect === 'postgres' && this.options.databaseUrl !== undefined)
      await this.listen(this.options.databaseUrl);
  }

  /** Drops and rebuilds every workspace from the store. Reads the log position first, so nothing is missed. */
  async rebuild(): Promise<void> {
    const started = performance.now();
    const lastSeen = await findLastEventId(this.options.db);
    const ids = await listWorkspaceIds(this.options.db);
    const built = await Promise.all(
      ids.map(
        async ({ id }) =>
          [
            id,
            await this.buildWorkspace(id),
            new EndUserSlice(await loadEndUserSliceRows(this.options.db, id)),
          ] as const,
      ),
    );
    this.workspaces.clear();
    this.endUserSlices.clear();
    for (const [id, index, endUsers] of built) {
      if (index !== undefined) this.workspaces.set(id, index);
      this.endUserSlices.set(id, endUsers);
    }
    this.lastSeen = lastSeen;
    this.missing.clear();
    this.stats.lastBuildMs = performance.now() - started;
  }

  private async buildWorkspace(id: number): Promise<WorkspaceIndex | undefined> {
    const rows = await loadWorkspaceRows(this.options.db, id);
    if (rows === undefined) return undefined;
    const index = new WorkspaceIndex(id);
    index.load(rows);
    const db = this.options.db;
    for (let after = 0; ;) {
      const page = await loadMembershipPage(db, id, after);
      index.addMembershipRows(page);
      if (page.length < LOAD_PAGE_SIZE) break;
      after = (page[page.length - 1] as { id: number }).id;
    }
    for (let after = ''; ;) {
      const page = await loadGrantPage(db, id, after);
      index.addGrantRows(page);
      if (page.length < LOAD_PAGE_SIZE) break;
      after = (page[page.length - 1] as GrantIndexRow).id;
    }
    return index;
  }

  private async listen(url: string): Promise<void> {
    const client = new pg.Client({ connectionString: url });
    client.on('notification', () => {
      this.sync().catch((error: unknown) => this.options.onError?.(error));
    });
    client.on('error', (error) => {
      // The poll keeps the index current while the listener is down; reconnect in the background.
      this.options.onError?.(error);
      this.listener = null;
      void client.end().catch(() => undefined);
      if (!this.stopped)
        setTimeout(
          () => void this.listen(url).catch((e: unknown) => this.options.onError?.(e)),
          1_000,
        ).unref();
    });
    await client.connect();
    await client.query(`LISTEN ${CHANGE_CHANNEL}`);
    if (this.stopped) {
      await client.end();
      return;
    }
    this.listener = client;
    // Writes that landed while the listener was connecting.
    await this.sync();
  }

  /** Tells the other instances to sync (PostgreSQL only). Called after a local write. */
  async notifyOthers(): Promise<void> {
    if (this.options.dialect !== 'postgres') return;
    await sql`select pg_notify(${CHANGE_CHANNEL}, '')`.execute(this.options.db);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.poller !== null) clearInterval(this.poller);
    this.poller = null;
    const listener = this.listener;
    this.listener = null;
    if (listener !== null) await listener.end().catch(() => undefined);
    await this.running?.catch(() => undefined);
    await this.queued?.catch(() => undefined);
  }

  /**
   * Applies every change logged since the last sync. Concurrent callers share one run, and a
   * caller that arrives during a run gets the next one, which starts after its call: a caller
   * whose write committed before it called sync() always sees that write afterwards.
   */
  sync(): Promise<void> {
    if (this.running === null) {
      this.running = this.syncOnce().finally(() => {
        this.running = null;
      });
      return this.running;
    }
    this.queued ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = null;
        return this.sync();
      });
    return this.queued;
  }

  private async syncOnce(): Promise<void> {
    this.stats.syncs += 1;
    const nowMs = Date.now();
    for (const [id, since] of this.missing)
      if (nowMs - since > MISSING_ID_TTL_MS) this.missing.delete(id);
    for (;;) {
      const events = await listChangeEvents(
        this.options.db,
        this.lastSeen,
        [...this.missing.keys()],
        EVENTS_PER_READ,
      );
      if (events.length === 0) return;
      let expected = this.lastSeen + 1;
      for (const event of events) {
        if (event.id > this.lastSeen) {
          // IDs skipped here may belong to transactions still in flight: watch them for a while.
          if (event.id - expected <= EVENTS_PER_READ)
            for (let id = expected; id < event.id; id++) this.missing.set(id, nowMs);
          expected = event.id + 1;
          this.lastSeen = event.id;
        } else {
          this.missing.delete(event.id);
        }
      }
      this.stats.events += events.length;
      await this.apply(events);
      if (events.length < EVENTS_PER_READ) return;
    }
  }

  private async apply(events: ChangeEventRow[]): Promise<void> {
    const byWorkspace = new Map<number, Dirty>();
    for (const event of events) {
      let dirty = byWorkspace.get(event.workspace_id);
      if (dirty === undefined) {
        dirty = emptyDirty();
        byWorkspace.set(event.workspace_id, dirty);
      }
      markDirty(dirty, event);
    }
    for (const [workspaceId, dirty] of byWorkspace) {
      if (dirty.endUsers || dirty.full) {
        this.endUserSlices.set(
          workspaceId,
          new EndUserSlice(await loadEndUserSliceRows(this.options.db, workspaceId)),
        );
      }
      const targets =
        dirty.members.size +
        dirty.groups.size +
        dirty.projects.size +
        dirty.grants.size +
        dirty.projectRoles.size;
      const index = this.workspaces.get(workspaceId);
      if (index === undefined || dirty.full || targets > FULL_RELOAD_THRESHOLD) {
        this.stats.fullReloads += 1;
        const rebuilt = await this.buildWorkspace(workspaceId);
        if (rebuilt === undefined) this.workspaces.delete(workspaceId);
        else this.workspaces.set(workspaceId, rebuilt);
        continue;
      }
      if (targets === 0 && !dirty.environmentRoles) continue;
      await this.reloadTargets(index, dirty);
    }
  }

  /** Reads everything first, then changes the index without awaiting, so a check never sees half a reload. */
  private async reloadTargets(index: WorkspaceIndex, dirty: Dirty): Promise<void> {
    const db = this.options.db;
    const id = index.id;
    const [environmentRoles, projectRoles, members, groups, projects, grants] = await Promise.all([
      dirty.environmentRoles ? loadEnvironmentRoleRows(db, id) : Promise.resolve(undefined),
      Promise.all(
        [...dirty.projectRoles].map(
          async (roleId) => [roleId, await findProjectRoleRow(db, id, roleId)] as const,
        ),
      ),
      Promise.all(
        [...dirty.members].map(
          async (memberId) => [memberId, await loadMemberRows(db, id, memberId)] as const,
        ),
      ),
      Promise.all(
        [...dirty.groups].map(
          async (groupId) => [groupId, await loadGroupRows(db, id, groupId)] as const,
        ),
      ),
      Promise.all(
        [...dirty.projects].map(
          async (projectId) => [projectId, await loadProjectRows(db, id, projectId)] as const,
        ),
      ),
      Promise.all(
        [...dirty.grants].map(
          async (grantId) => [grantId, await findGrantRow(db, id, grantId)] as const,
        ),
      ),
    ]);
    if (environmentRoles !== undefined)
      index.setEnvironmentAndLegacyRoles(
        environmentRoles.legacyRoles,
        environmentRoles.environmentRoles,
      );
    for (const [roleId, row] of projectRoles) {
      if (row !== undefined) index.setProjectRole(row);
      else index.projectRoles.delete(roleId);
    }
    // Members and groups before projects and grants: a grant needs both of its ends in the index.
    for (const [memberId, reload] of members) index.applyMember(memberId, reload);
    for (const [groupId, reload] of groups) index.applyGroup(groupId, reload);
    for (const [projectId, reload] of projects) index.applyProject(projectId, reload);
    for (const [grantId, row] of grants) index.applyGrant(grantId, row);
  }
}

/** What an audit event's target means for the index. Unknown targets (invitations…) change nothing here. */
function markDirty(dirty: Dirty, event: ChangeEventRow): void {
  const target = event.target_id;
  if (event.action.startsWith('roles_migration.')) {
    dirty.full = true;
    return;
  }
  switch (event.target_type) {
    case 'workspace':
      dirty.full = true;
      return;
    case 'member':
      if (target !== null && /^\d+$/.test(target)) dirty.members.add(Number(target));
      return;
    case 'user_group':
      if (target !== null) dirty.groups.add(target);
      return;
    case 'project':
      if (target !== null && /^\d+$/.test(target)) dirty.projects.add(Number(target));
      return;
    case 'project_grant':
      if (target !== null) dirty.grants.add(target);
      return;
    case 'project_role':
      if (target !== null) dirty.projectRoles.add(target);
      return;
    case 'environment_role':
    case 'role':
      dirty.environmentRoles = true;
      return;
    case 'end_user':
      // A decision's own log entry changes nothing (and must not cost a reload per decision).
      if (event.action !== 'end_user.decision') dirty.endUsers = true;
      return;
    case 'end_user_group':
    case 'feature':
    case 'policy':
    case 'scim_connection':
      dirty.endUsers = true;
      return;
    case 'api_client':
      // Not index data, but the change log is how other instances learn of a rotate or revoke:
      // the authentication cache drops the client (the writer's own process already has).
      evictApiClient(target !== null && /^\d+$/.test(target) ? Number(target) : null);
      return;
    default:
      return;
  }
}
