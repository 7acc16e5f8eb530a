/**
 * The access index: every workspace's columnar index (workspace-index.ts) and end-user slice
 * (end-user-index.ts), built at start and kept current by the change feed (audit/change-feed.ts).
 * The index is one subscriber of the feed; what each kind of change reloads is one exhaustive
 * table (markDirty, below). What the data means is privilege-evaluation.ts. docs/decisions.md
 * describes the design.
 *
 * A sync reads every row it needs first, then applies them without awaiting, so a check never
 * sees half a reload.
 */
import type { Db } from '../../storage/database.js';
import { systemClock, type Clock } from '../../lib/clock.js';
import type { ChangeEvent, ChangeSubscriptions } from '../audit/change-feed.js';
import {
  countGrants,
  findGrantRow,
  findProjectRoleRow,
  listWorkspaceIds,
  loadEndUserGroupRows,
  loadEndUserRows,
  loadEndUserSliceRows,
  loadGrantPage,
  loadMembershipPage,
  LOAD_PAGE_SIZE,
  loadEnvironmentRoleRows,
  loadGroupRows,
  loadMemberRows,
  loadProjectRows,
  loadWorkspaceRows,
  type GrantIndexRow,
} from './decisions.repository.js';
import { EndUserSlice, applyEndUser, applyEndUserGroup } from './end-user-index.js';
import { WorkspaceIndex } from './workspace-index.js';

/** Above this many targets in one workspace and one sync, a full reload is cheaper and simpler. */
const FULL_RELOAD_THRESHOLD = 500;

export interface AccessIndexOptions {
  db: Db;
  clock: Clock;
  /** The change feed the index subscribes to (app.ts starts it with the index's build). */
  changes: ChangeSubscriptions;
}

/** What one sync must reload in one workspace: markDirty fills it from the events. */
interface Dirty {
  full: boolean;
  members: Set<number>;
  groups: Set<string>;
  projects: Set<number>;
  grants: Set<string>;
  projectRoles: Set<string>;
  environmentRoles: boolean;
  /** Features, policies, connections, deletions: the workspace's end-user slice is reloaded whole. */
  endUsers: boolean;
  /** End users and end-user groups reloaded one by one (a SCIM sync is thousands of these). */
  endUserIds: Set<number>;
  endUserGroupIds: Set<number>;
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
  endUserIds: new Set(),
  endUserGroupIds: new Set(),
});

export class AccessIndex {
  private readonly workspaces = new Map<number, WorkspaceIndex>();
  private readonly endUserSlices = new Map<number, EndUserSlice>();
  /** Counters for docs, tests and operators. */
  readonly stats = { fullReloads: 0, lastBuildMs: 0 };

  constructor(private readonly options: AccessIndexOptions) {
    options.changes.subscribe((events) => this.apply(events));
  }

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

  /**
   * Drops and builds every workspace from the store. The change feed calls it at start, after it
   * has read the log's position, so nothing written meanwhile is missed.
   */
  async build(): Promise<void> {
    const started = performance.now();
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
    index.reserveGrants(await countGrants(db, id));
    for (let after = ''; ;) {
      const page = await loadGrantPage(db, id, after);
      index.addGrantRows(page);
      if (page.length < LOAD_PAGE_SIZE) break;
      after = (page[page.length - 1] as GrantIndexRow).id;
    }
    index.finishLoad();
    return index;
  }

  /** The index's subscription to the change feed: reloads what each event names. */
  private async apply(events: readonly ChangeEvent[]): Promise<void> {
    const byWorkspace = new Map<number, Dirty>();
    for (const event of events) {
      let dirty = byWorkspace.get(event.workspaceId);
      if (dirty === undefined) {
        dirty = emptyDirty();
        byWorkspace.set(event.workspaceId, dirty);
      }
      markDirty(dirty, event);
    }
    for (const [workspaceId, dirty] of byWorkspace) {
      await this.reloadEndUsers(workspaceId, dirty);
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

  /**
   * The end-user slice: whole on a full change or above the threshold, else the named users and
   * groups one by one (read first, then applied without awaiting, as for collaborators).
   */
  private async reloadEndUsers(workspaceId: number, dirty: Dirty): Promise<void> {
    const db = this.options.db;
    const slice = this.endUserSlices.get(workspaceId);
    const targets = dirty.endUserIds.size + dirty.endUserGroupIds.size;
    if (targets === 0 && !dirty.endUsers && !dirty.full) return;
    if (dirty.endUsers || dirty.full || slice === undefined || targets > FULL_RELOAD_THRESHOLD) {
      this.endUserSlices.set(
        workspaceId,
        new EndUserSlice(await loadEndUserSliceRows(db, workspaceId)),
      );
      return;
    }
    const [users, groups] = await Promise.all([
      Promise.all(
        [...dirty.endUserIds].map(
          async (id) => [id, await loadEndUserRows(db, workspaceId, id)] as const,
        ),
      ),
      Promise.all(
        [...dirty.endUserGroupIds].map(
          async (id) => [id, await loadEndUserGroupRows(db, workspaceId, id)] as const,
        ),
      ),
    ]);
    // Groups first (Everyone included: its creation is an event too): a user reload links the
    // user to groups the slice must already hold.
    for (const [id, reload] of groups) applyEndUserGroup(slice, id, reload);
    for (const [id, reload] of users) applyEndUser(slice, id, reload);
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
      else index.dropProjectRole(roleId);
    }
    // Members and groups before projects and grants: a grant needs both of its ends in the index.
    for (const [memberId, reload] of members) index.applyMember(memberId, reload);
    for (const [groupId, reload] of groups) index.applyGroup(groupId, reload);
    for (const [projectId, reload] of projects) index.applyProject(projectId, reload);
    for (const [grantId, row] of grants) index.applyGrant(grantId, row);
  }
}

/**
 * The reload table: what each kind of change means for the index. One case per target type the
 * audit log is written with (CHANGE_TARGET_TYPES in audit/change-kinds.ts, which also types every write) and no default, so a new
 * kind fails to compile here until it says what it reloads. A target type this version does not
 * know (`null`) changes nothing.
 */
function markDirty(dirty: Dirty, event: ChangeEvent): void {
  const target = event.targetId;
  const type = event.targetType;
  // The migration rewrites roles, assignments and grants across the workspace (its events name
  // the workspace or a role): rebuild it.
  if (event.action.startsWith('roles_migration.')) {
    dirty.full = true;
    return;
  }
  if (type === null) return;
  switch (type) {
    case 'workspace':
      dirty.full = true;
      return;
    case 'member':
      if (target !== null && /^\d+$/.test(target)) dirty.members.add(Number(target));
      return;
    case 'user_group':
      // Members added or removed: reloading them is proportional to the change; reloading the
      // group, to its size.
      if (reloadsMembersOnly(event)) for (const id of event.memberIds) dirty.members.add(id);
      else if (target !== null) dirty.groups.add(target);
      return;
    case 'project':
      // Grants upserted: reloading them is proportional to the change; reloading the project, to
      // its grants.
      if (
        event.grantIds !== undefined &&
        event.grantIds !== null &&
        event.grantIds.length <= MEMBER_RELOADS_PER_CHANGE
      )
        for (const id of event.grantIds) dirty.grants.add(id);
      else if (target !== null && /^\d+$/.test(target)) dirty.projects.add(Number(target));
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
      if (event.action === 'end_user.decision') return;
      // A deletion also takes the user's feature grants and policy targets: reload the slice.
      if (event.action.endsWith('.deleted') || target === null || !/^\d+$/.test(target))
        dirty.endUsers = true;
      else dirty.endUserIds.add(Number(target));
      return;
    case 'end_user_group':
      // A deleted group also takes its feature grants and policy targets: reload the slice.
      if (event.action.endsWith('.deleted') || target === null || !/^\d+$/.test(target))
        dirty.endUsers = true;
      else if (reloadsMembersOnly(event))
        for (const id of event.memberIds) dirty.endUserIds.add(id);
      else dirty.endUserGroupIds.add(Number(target));
      return;
    case 'scim_connection':
      // A deleted collaborators connection takes its deactivations with it (its rows cascade).
      if (event.action === 'scim_connection.deleted') dirty.full = true;
      dirty.endUsers = true;
      return;
    case 'feature':
    case 'policy':
      dirty.endUsers = true;
      return;
    // Not index data. API clients: the authentication cache subscribes to the feed itself.
    // Invitations become members through a `member` event; approval requests are read by the
    // decision that uses them (end-user-decisions.ts); SSO settings hold no access.
    case 'api_client':
    case 'member_invitation':
    case 'approval_request':
    case 'sso_oidc':
      return;
    default:
      return unhandled(type);
  }
}

/**
 * A change naming at most this many members (or grants) reloads them one by one; a larger one
 * reloads the group (or project): one read instead of one per row.
 */
const MEMBER_RELOADS_PER_CHANGE = 50;

function reloadsMembersOnly(
  event: ChangeEvent,
): event is ChangeEvent & { memberIds: readonly number[] } {
  return (
    event.memberIds !== undefined &&
    event.memberIds !== null &&
    event.memberIds.length <= MEMBER_RELOADS_PER_CHANGE
  );
}

/** Compile-time exhaustiveness: only reached by a target type with no case above. */
function unhandled(type: never): never {
  throw new Error(`access index: no reload rule for target type ${String(type)}`);
}
