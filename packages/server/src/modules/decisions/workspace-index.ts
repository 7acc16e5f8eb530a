/**
 * The columnar access index of one workspace: members, groups, memberships, projects, project
 * grants and roles, kept as typed columns and sorted slot lists so that a check is a few binary
 * searches and bit tests with no database call (docs/decisions.md describes the layout). This file
 * owns the data: its shape, the full build and the incremental reloads that keep it current. What
 * the data means — who may do what — is privilege-evaluation.ts; when it is reloaded is
 * access-index.ts.
 *
 * Expiry needs no job: grants and memberships keep their `expires_at` and the evaluation compares
 * it with the clock, so an expired one stops counting at that instant.
 */
import {
  PROJECT_RESOURCES,
  describeRoleConfig,
  legacyProjectConfig,
  type LegacyPrivileges,
  type RoleConfig,
} from '@roster/contracts';
import { fromJson } from '../../storage/json.js';
import type {
  EnvironmentRoleIndexRow,
  GrantIndexRow,
  GroupReload,
  LegacyRoleIndexRow,
  MemberReload,
  MembershipIndexRow,
  MemberRoleIndexRow,
  ProjectReload,
  ProjectRoleIndexRow,
  SuspensionRow,
  WorkspaceIndexRows,
} from './decisions.repository.js';

export const NEVER = Number.POSITIVE_INFINITY;
const expiryMs = (expiresAt: string | null): number =>
  expiresAt === null ? NEVER : Date.parse(expiresAt);

/** A project role with its privileges compiled to bits of the workspace's permission table. */
export interface RoleEntry {
  id: string;
  /** Position in the workspace's role table: what a grant stores instead of a reference. */
  slot: number;
  name: string;
  config: RoleConfig;
  bits: Uint32Array;
  /** `{label: privileges}` as the privileges endpoints print it. */
  described: Record<string, string[]>;
}

/**
 * A project grant as the explain and review endpoints read it. The index does not keep these
 * objects: grants live in typed columns (see WorkspaceIndex) and a view is made on request.
 */
export interface GrantEntry {
  id: string;
  project: ProjectEntry;
  role: RoleEntry;
  member: MemberEntry | null;
  group: GroupEntry | null;
  createdMs: number;
  expiresAt: string | null;
  expiresMs: number;
}

/** A group membership as the explain and review endpoints read it (a view, like GrantEntry). */
export interface MembershipEntry {
  member: MemberEntry;
  group: GroupEntry;
  expiresAt: string | null;
  expiresMs: number;
}

export interface EnvironmentRoleAssignment {
  readonly environmentId: number;
  readonly roleType: string;
  readonly legacyRoleId: number | null;
  readonly environmentRoleId: number | null;
}

/**
 * One collaborator. Compact on purpose (100,000 of them): memberships are parallel arrays of small
 * integers (group slots) rather than objects, and `roles` is shared between every member with the
 * same assignments. Never mutate `roles` or an array that is `EMPTY`: replace them.
 */
export interface MemberEntry {
  readonly id: number;
  name: string;
  email: string;
  emailKey: string;
  roles: readonly EnvironmentRoleAssignment[];
  /** Slots of the groups the member belongs to. */
  groups: number[];
  /** Parallel to `groups`: each membership's expiry in ms (Infinity when none); null when none expires. */
  groupExpiresMs: number[] | null;
  /** Parallel to `groups`: each membership's `expires_at` as stored; null when none expires. */
  groupExpiresAt: (string | null)[] | null;
  /** Slots of the grants made to the member directly, ordered by project; null until one. */
  direct: number[] | null;
  /**
   * Environments where an identity provider has deactivated the member (SCIM `active: false` on a
   * collaborators connection): no project grant counts there. Null for nearly everyone.
   */
  suspendedIn: readonly number[] | null;
}

export interface GroupEntry {
  readonly id: string;
  readonly slot: number;
  name: string;
  system: boolean;
  /** IDs of the members (the membership's expiry lives on the member side). */
  memberIds: number[];
  /** Slots of the group's grants, ordered by project. */
  grants: number[];
}

export interface ProjectEntry {
  id: number;
  name: string;
  environmentId: number;
  environmentType: string;
  /** Slots of every grant on the project, in no order. */
  grantSlots: number[];
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
  /**
   * What the role allows on every project of an environment where a member holds it (the legacy
   * model has no grants: a role covers its environment), compiled like a project role; null when
   * it allows nothing there (`No access`). Its `slot` is -1: no grant points at it.
   */
  project: RoleEntry | null;
  /** The projects a custom role selects; null: every project of the environment. */
  projectIds: ReadonlySet<number> | null;
}

/** A legacy role that allows something on projects (see legacyRoleOn). */
export type LegacyProjectRole = LegacyRoleEntry & { project: RoleEntry };

/** The projects a member can use now: `bits` holds `words` words per project, in `projectIds` order. */
export interface ProjectBits {
  projectIds: number[];
  words: number;
  bits: Uint32Array;
}

// Shared empty arrays: a member with no group or no role points at these and gets its own array on
// its first membership (frozen, so a mistaken push throws instead of corrupting every member).
const NO_SLOTS = Object.freeze([]) as unknown as number[];
const NO_ROLES: readonly EnvironmentRoleAssignment[] = Object.freeze([]);
const NO_GRANT = -1;
/** Int32 words of a group's project filter (512 bits: one cache line). */
export const FILTER_WORDS = 16;
/** A project's bit in the filters: a multiplicative hash of its ID to 0..511. */
export const projectFilterBit = (projectId: number): number =>
  Math.imul(projectId, 0x9e3779b1) >>> 23;

/**
 * The smallest grant-column and hash-table sizes. A workspace's arrays are sized to what it holds:
 * thousands of small workspaces each carrying kilobytes of zeroes was most of the memory (issue 14).
 */
const MIN_CAPACITY = 16;

/**
 * Heap bytes per entry around the typed arrays (objects, strings, Map entries), measured with
 * bench/tenants.mjs on realistic workspaces (docs/performance.md): the memory budget's estimate.
 */
const BYTES = {
  workspace: 6_000,
  member: 330,
  membership: 40,
  group: 420,
  project: 260,
  grant: 110,
  role: 1_200,
} as const;

function resizedInt32(from: Int32Array, length: number): Int32Array<ArrayBuffer> {
  const to = new Int32Array(length);
  to.set(from.length <= length ? from : from.subarray(0, length));
  return to;
}
function resizedFloat64(from: Float64Array, length: number): Float64Array<ArrayBuffer> {
  const to = new Float64Array(length);
  to.set(from.length <= length ? from : from.subarray(0, length));
  return to;
}

/**
 * Grant ID → slot, as an open-addressing hash table in one Int32Array (linear probing; 0 = empty,
 * -1 = deleted, else slot + 1). A Map of 300,000 string keys costs ~15 MB of hash table; this costs
 * 4 MB, and the keys are the grant IDs the index keeps anyway. Only writes look grants up by ID.
 */
class GrantSlotTable {
  private table = new Int32Array(MIN_CAPACITY);
  /** Live entries, and live plus deleted ones (what decides a rehash). */
  size = 0;
  private occupied = 0;

  constructor(private readonly idOf: (slot: number) => string) {}

  private static hash(id: string): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
    return h >>> 0;
  }

  /** The position of the ID's entry, or of the empty cell that ends its probe sequence. */
  private find(id: string): number {
    const mask = this.table.length - 1;
    for (let at = GrantSlotTable.hash(id) & mask; ; at = (at + 1) & mask) {
      const cell = this.table[at] as number;
      if (cell === 0 || (cell > 0 && this.idOf(cell - 1) === id)) return at;
    }
  }

  get(id: string): number | undefined {
    const cell = this.table[this.find(id)] as number;
    return cell > 0 ? cell - 1 : undefined;
  }

  set(id: string, slot: number): void {
    // Kept at most 3/4 full: linear probing stays short, and only writes look grants up.
    if ((this.occupied + 1) * 4 > this.table.length * 3) this.rehash(this.size * 2 + MIN_CAPACITY);
    const at = this.find(id);
    if (this.table[at] === 0) {
      this.size++;
      this.occupied++;
    }
    this.table[at] = slot + 1;
  }

  delete(id: string): void {
    const at = this.find(id);
    if ((this.table[at] as number) <= 0) return;
    this.table[at] = -1;
    this.size--;
  }

  /** Empties the table and enters these slots (after a renumbering). */
  refill(slots: number[]): void {
    this.table.fill(0);
    this.size = 0;
    this.occupied = 0;
    for (const slot of slots) this.set(this.idOf(slot), slot);
  }

  get byteLength(): number {
    return this.table.byteLength;
  }

  /** Sizes the table for `count` entries (a full load knows its count up front). */
  reserve(count: number): void {
    if (count * 4 > this.table.length * 3) this.rehash(Math.ceil((count * 4) / 3));
  }

  private rehash(minimum: number): void {
    let length = MIN_CAPACITY;
    while (length < minimum) length *= 2;
    const old = this.table;
    this.table = new Int32Array(length);
    this.occupied = this.size;
    const mask = length - 1;
    for (const cell of old) {
      if (cell <= 0) continue;
      let at = GrantSlotTable.hash(this.idOf(cell - 1)) & mask;
      while (this.table[at] !== 0) at = (at + 1) & mask;
      this.table[at] = cell;
    }
  }
}

/**
 * One workspace's slice of the index.
 *
 * Memory is what shapes it (the target is the whole server in 300 MB with 300,000 grants and
 * 300,000 memberships): a grant is a slot in typed columns (project, role, member, group, created,
 * expires) instead of an object with two boxed numbers and three Map entries, holders keep sorted
 * arrays of slots instead of Maps, and memberships are two small-integer arrays. A check is a
 * binary search in each holder's slot list and a bit test; nothing on that path allocates.
 */
export class WorkspaceIndex {
  environments: { id: number; type: string }[] = [];
  environmentsByType = new Map<string, { id: number; type: string }>();
  legacyRoles = new Map<number, LegacyRoleEntry>();
  environmentRoles = new Map<number, EnvironmentRoleEntry>();
  projectRoles = new Map<string, RoleEntry>();
  members = new Map<number, MemberEntry>();
  /**
   * The same members in an array indexed by ID − `denseBase` while the workspace's IDs are dense
   * (they span at most 4 × members + 64: true of a workspace whose members were mostly created
   * together, as a big one's are): a check's member lookup is then one indexed load instead of a
   * hash probe. Offset by the lowest ID, so its length is the workspace's span of IDs, not the
   * database's highest member ID. Null once IDs are too sparse; memberById falls back to the Map.
   */
  private denseMembers: (MemberEntry | undefined)[] | null = [];
  private denseBase = -1;
  membersByEmail = new Map<string, MemberEntry>();
  groups = new Map<string, GroupEntry>();
  /** "All collaborators": every member belongs, with no membership row. */
  systemGroups: GroupEntry[] = [];
  projects = new Map<number, ProjectEntry>();

  // Read by the evaluation (privilege-evaluation.ts) on the check path without a call in between,
  // hence public; only this class writes them.

  /** Groups and roles by slot; a slot is never reused, so a stale one finds `undefined`. */
  readonly groupsBySlot: (GroupEntry | undefined)[] = [];
  /**
   * Per group slot, a 512-bit filter (16 words, one cache line) of the projects it has grants on:
   * a clear bit proves the group has none there, so a check skips the group's grant list. A
   * group's ~50 grants over thousands of projects make that the usual case; all 5,000 groups'
   * filters (320 KB) stay in cache while their lists do not. Removing a grant rebuilds its
   * group's filter.
   */
  projectFilters = new Int32Array(0);
  readonly rolesBySlot: RoleEntry[] = [];

  // The grant columns. A slot is reused after its grant goes (freeSlots).
  private capacity = 0;
  grantProject = new Int32Array(0);
  grantRole = new Int32Array(0);
  /** Member ID of a direct grant, else 0. */
  private grantMember = new Int32Array(0);
  /** Group slot of a group grant, else -1. */
  private grantGroup = new Int32Array(0);
  private grantCreatedMs = new Float64Array(0);
  grantExpiresMs = new Float64Array(0);
  private grantIds: string[] = [];
  /** `expires_at` as stored, for the few grants that have one. */
  private readonly grantExpiresAt = new Map<number, string>();
  private readonly grantSlotById = new GrantSlotTable((slot) => this.grantIds[slot] ?? '');
  private readonly freeSlots: number[] = [];
  /** During a full load holders' lists are appended to and sorted once at the end. */
  private loading = false;

  /** Interned (resource, privilege) pairs: resource → privilege → bit number. Bits are never reused. */
  private readonly permissionBits = new Map<string, Map<string, number>>();
  /** Bits handed out so far: a role's bits are `(bitCount >>> 5) + 1` words at most. */
  bitCount = 0;
  /** Interned role assignments and lists of them (a few distinct ones among 100,000 members). */
  private readonly assignments = new Map<string, EnvironmentRoleAssignment>();
  private readonly roleLists = new Map<string, readonly EnvironmentRoleAssignment[]>();

  constructor(readonly id: number) {}

  get grantCount(): number {
    return this.grantSlotById.size;
  }

  /**
   * Roughly the heap this index holds, for the memory budget (access-index.ts): the typed arrays
   * exactly, and per member, group, project, grant and role an average of what surrounds them.
   * O(groups), so it is cheap enough to run after every sync.
   */
  estimateBytes(): number {
    let memberships = 0;
    for (const group of this.groups.values()) memberships += group.memberIds.length;
    const columns = this.capacity * (4 * Int32Array.BYTES_PER_ELEMENT + 2 * 8);
    return (
      BYTES.workspace +
      this.members.size * BYTES.member +
      memberships * BYTES.membership +
      this.groups.size * BYTES.group +
      this.projects.size * BYTES.project +
      this.grantCount * BYTES.grant +
      (this.rolesBySlot.length + this.legacyRoles.size) * BYTES.role +
      columns +
      this.projectFilters.byteLength +
      this.grantSlotById.byteLength +
      (this.denseMembers?.length ?? 0) * 8
    );
  }

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

  /** A project-role config as bits of the permission table. */
  private compileProjectConfig(config: RoleConfig): Uint32Array {
    const bitList: number[] = [];
    for (const [resource, entry] of Object.entries(config)) {
      for (const privilege of projectPrivilegesOf(resource, entry.privileges))
        bitList.push(this.intern(resource, privilege));
    }
    const bits = new Uint32Array((this.bitCount >>> 5) + 1);
    for (const bit of bitList) bits[bit >>> 5] = (bits[bit >>> 5] ?? 0) | (1 << (bit & 31));
    return bits;
  }

  /** Sets a role's config in place: grants hold its slot, so they see the change at once. */
  setProjectRole(row: ProjectRoleIndexRow): RoleEntry {
    const config = fromJson<RoleConfig>(row.config);
    const described = describeRoleConfig(config, PROJECT_RESOURCES);
    const bits = this.compileProjectConfig(config);
    const existing = this.projectRoles.get(row.id);
    if (existing !== undefined) {
      existing.name = row.name;
      existing.config = config;
      existing.bits = bits;
      existing.described = described;
      return existing;
    }
    const role: RoleEntry = {
      id: row.id,
      slot: this.rolesBySlot.length,
      name: row.name,
      config,
      bits,
      described,
    };
    this.rolesBySlot.push(role);
    this.projectRoles.set(row.id, role);
    return role;
  }

  /** A deleted role keeps its slot (grants on it go with it in the same change). */
  dropProjectRole(id: string): void {
    this.projectRoles.delete(id);
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
      legacy.map((r) => {
        const privileges = fromJson<LegacyPrivileges>(r.privileges);
        const config = legacyProjectConfig({ name: r.name, system: r.system === 1, privileges });
        const project: RoleEntry | null =
          Object.keys(config).length === 0
            ? null
            : {
                id: `legacy-${r.id}`,
                slot: -1,
                name: r.name,
                config,
                bits: this.compileProjectConfig(config),
                described: describeRoleConfig(config, PROJECT_RESOURCES),
              };
        const projectIds = r.project_ids === null ? null : new Set(r.project_ids);
        return [r.id, { id: r.id, name: r.name, privileges, project, projectIds }];
      }),
    );
    this.environmentRoles = new Map(
      environment.map((r) => [
        r.id,
        { id: r.id, name: r.name, config: fromJson<RoleConfig>(r.config) },
      ]),
    );
  }

  private roleList(rows: MemberRoleIndexRow[]): readonly EnvironmentRoleAssignment[] {
    if (rows.length === 0) return NO_ROLES;
    const list = rows.map((row) => {
      const key = `${row.environment_id}:${row.role_type}:${row.legacy_role_id ?? ''}:${row.environment_role_id ?? ''}`;
      let assignment = this.assignments.get(key);
      if (assignment === undefined) {
        assignment = Object.freeze({
          environmentId: row.environment_id,
          roleType: row.role_type,
          legacyRoleId: row.legacy_role_id,
          environmentRoleId: row.environment_role_id,
        });
        this.assignments.set(key, assignment);
      }
      return assignment;
    });
    const key = list
      .map(
        (a) =>
          `${a.environmentId}:${a.roleType}:${a.legacyRoleId ?? ''}:${a.environmentRoleId ?? ''}`,
      )
      .join('|');
    let shared = this.roleLists.get(key);
    if (shared === undefined) {
      shared = Object.freeze(list);
      this.roleLists.set(key, shared);
    }
    return shared;
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
        roles: NO_ROLES,
        groups: NO_SLOTS,
        groupExpiresMs: null,
        groupExpiresAt: null,
        direct: null,
        suspendedIn: null,
      };
      this.members.set(row.id, member);
      this.placeDense(member);
    } else if (member.emailKey !== row.email_key) {
      this.membersByEmail.delete(member.emailKey);
    }
    member.name = row.name;
    member.email = row.email;
    member.emailKey = emailKey;
    this.membersByEmail.set(emailKey, member);
    return member;
  }

  /** The member with this ID (the check path's lookup). */
  memberById(id: number): MemberEntry | undefined {
    const dense = this.denseMembers;
    if (dense === null) return this.members.get(id);
    const at = id - this.denseBase;
    return at >= 0 && at < dense.length ? dense[at] : undefined;
  }

  private placeDense(member: MemberEntry): void {
    const dense = this.denseMembers;
    if (dense === null) return;
    if (this.denseBase < 0 && Number.isInteger(member.id) && member.id >= 0)
      this.denseBase = member.id;
    const at = member.id - this.denseBase;
    if (!Number.isInteger(member.id) || at < 0 || at > this.members.size * 4 + 64) {
      this.denseMembers = null;
      return;
    }
    // Grown by push, never by writing past the end: the array stays in fast (non-dictionary) mode.
    while (dense.length <= at) dense.push(undefined);
    dense[at] = member;
  }

  /** Builds the dense array over the members' span of IDs, or leaves it null when too sparse. */
  private layOutDense(): void {
    let low = Number.POSITIVE_INFINITY;
    let high = -1;
    for (const id of this.members.keys()) {
      if (!Number.isInteger(id) || id < 0) {
        this.denseMembers = null;
        return;
      }
      if (id < low) low = id;
      if (id > high) high = id;
    }
    if (high < 0) {
      this.denseMembers = [];
      this.denseBase = -1;
      return;
    }
    if (high - low > this.members.size * 4 + 64) {
      this.denseMembers = null;
      return;
    }
    const dense: (MemberEntry | undefined)[] = [];
    for (let id = low; id <= high; id++) dense.push(this.members.get(id));
    this.denseMembers = dense;
    this.denseBase = low;
  }

  private clearMemberships(member: MemberEntry): void {
    for (const slot of member.groups) {
      const group = this.groupsBySlot[slot];
      if (group !== undefined) removeValue(group.memberIds, member.id);
    }
    member.groups = NO_SLOTS;
    member.groupExpiresMs = null;
    member.groupExpiresAt = null;
  }

  private clearDirectGrants(member: MemberEntry): void {
    if (member.direct === null) return;
    for (const slot of [...member.direct]) this.removeGrantSlot(slot);
    member.direct = null;
  }

  private dropMember(member: MemberEntry): void {
    this.clearMemberships(member);
    this.clearDirectGrants(member);
    this.members.delete(member.id);
    const at = member.id - this.denseBase;
    if (this.denseMembers !== null && at >= 0 && at < this.denseMembers.length)
      this.denseMembers[at] = undefined;
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
    member.roles = this.roleList(reload.roles);
    member.suspendedIn = suspensionsOf(reload.suspensions);
    this.clearMemberships(member);
    for (const row of reload.memberships) this.addMembership(row);
    this.clearDirectGrants(member);
    for (const row of reload.grants) this.addGrant(row);
  }

  // --- groups and memberships -----------------------------------------------------------------

  private addMembership(row: MembershipIndexRow): void {
    if (row.member_id === null) return;
    const member = this.members.get(row.member_id);
    const group = this.groups.get(row.group_id);
    // The missing side's own reload adds the membership when it arrives.
    if (member === undefined || group === undefined) return;
    const expiresMs = expiryMs(row.expires_at);
    let at = member.groups.indexOf(group.slot);
    if (at < 0) {
      if (member.groups === NO_SLOTS) member.groups = [];
      at = member.groups.push(group.slot) - 1;
      member.groupExpiresMs?.push(NEVER);
      member.groupExpiresAt?.push(null);
      group.memberIds.push(member.id);
    }
    if (row.expires_at !== null && member.groupExpiresMs === null) {
      member.groupExpiresMs = member.groups.map(() => NEVER);
      member.groupExpiresAt = member.groups.map(() => null);
    }
    if (member.groupExpiresMs !== null && member.groupExpiresAt !== null) {
      member.groupExpiresMs[at] = expiresMs;
      member.groupExpiresAt[at] = row.expires_at;
    }
  }

  private removeMembership(member: MemberEntry, group: GroupEntry): void {
    const at = member.groups.indexOf(group.slot);
    if (at < 0) return;
    member.groups.splice(at, 1);
    member.groupExpiresMs?.splice(at, 1);
    member.groupExpiresAt?.splice(at, 1);
  }

  private clearGroup(group: GroupEntry): void {
    for (const memberId of group.memberIds) {
      const member = this.members.get(memberId);
      if (member !== undefined) this.removeMembership(member, group);
    }
    group.memberIds = [];
    for (const slot of [...group.grants]) this.removeGrantSlot(slot, false);
    group.grants = [];
    this.rebuildFilter(group);
  }

  private markProject(group: GroupEntry, projectId: number): void {
    const bit = projectFilterBit(projectId);
    const at = group.slot * FILTER_WORDS + (bit >>> 5);
    this.projectFilters[at] = (this.projectFilters[at] as number) | (1 << (bit & 31));
  }

  private rebuildFilter(group: GroupEntry): void {
    this.projectFilters.fill(0, group.slot * FILTER_WORDS, (group.slot + 1) * FILTER_WORDS);
    for (const slot of group.grants) this.markProject(group, this.grantProject[slot] ?? 0);
  }

  private newGroup(id: string, name: string, system: boolean): GroupEntry {
    const group: GroupEntry = {
      id,
      slot: this.groupsBySlot.length,
      name,
      system,
      memberIds: [],
      grants: [],
    };
    this.groupsBySlot.push(group);
    this.groups.set(id, group);
    if (this.groupsBySlot.length * FILTER_WORDS > this.projectFilters.length) {
      const grown = new Int32Array(Math.max(4, this.groupsBySlot.length * 2) * FILTER_WORDS);
      grown.set(this.projectFilters);
      this.projectFilters = grown;
    }
    return group;
  }

  private dropGroup(group: GroupEntry): void {
    this.clearGroup(group);
    this.groups.delete(group.id);
    this.groupsBySlot[group.slot] = undefined;
    this.systemGroups = this.systemGroups.filter((g) => g !== group);
  }

  applyGroup(groupId: string, reload: GroupReload): void {
    const existing = this.groups.get(groupId);
    if (reload.group === undefined) {
      if (existing !== undefined) this.dropGroup(existing);
      return;
    }
    const group = existing ?? this.newGroup(groupId, '', false);
    group.name = reload.group.name;
    group.system = reload.group.system === 1;
    this.systemGroups = [...this.groups.values()].filter((g) => g.system);
    this.clearGroup(group);
    for (const row of reload.memberships) this.addMembership(row);
    for (const row of reload.grants) this.addGrant(row);
  }

  // --- projects and grants --------------------------------------------------------------------

  private allocateSlot(): number {
    const free = this.freeSlots.pop();
    if (free !== undefined) return free;
    const slot = this.grantIds.length;
    if (slot >= this.capacity) this.resizeColumns(Math.max(MIN_CAPACITY, this.capacity * 2));
    this.grantIds.push('');
    return slot;
  }

  private addGrant(row: GrantIndexRow): void {
    const existing = this.grantSlotById.get(row.id);
    if (existing !== undefined) this.removeGrantSlot(existing);
    const project = this.projects.get(row.project_id);
    const member = row.member_id === null ? undefined : this.members.get(row.member_id);
    const group = row.group_id === null ? undefined : this.groups.get(row.group_id);
    // As with memberships: the missing end's reload brings the grant in.
    if (project === undefined || (member === undefined && group === undefined)) return;
    const slot = this.allocateSlot();
    this.grantIds[slot] = row.id;
    this.grantSlotById.set(row.id, slot);
    this.grantProject[slot] = project.id;
    this.grantRole[slot] = this.roleFor(row.project_role_id).slot;
    this.grantMember[slot] = member?.id ?? 0;
    this.grantGroup[slot] = member === undefined && group !== undefined ? group.slot : NO_GRANT;
    this.grantCreatedMs[slot] = Date.parse(row.created_at);
    this.grantExpiresMs[slot] = expiryMs(row.expires_at);
    if (row.expires_at !== null) this.grantExpiresAt.set(slot, row.expires_at);
    project.grantSlots.push(slot);
    if (member !== undefined) {
      member.direct ??= [];
      this.insertOrdered(member.direct, slot);
    } else if (group !== undefined) {
      this.insertOrdered(group.grants, slot);
      this.markProject(group, project.id);
    }
  }

  /** Keeps a holder's list ordered by project (then slot), except during a full load (see finishLoad). */
  private insertOrdered(list: number[], slot: number): void {
    if (this.loading) {
      list.push(slot);
      return;
    }
    const project = this.grantProject[slot] ?? 0;
    let at = this.firstAtOrAfter(list, project);
    while (at < list.length && this.grantProject[list[at] ?? 0] === project) at++;
    list.splice(at, 0, slot);
  }

  /** Binary search: the first position in a holder's list whose grant's project is ≥ projectId. */
  firstAtOrAfter(list: number[], projectId: number): number {
    const projects = this.grantProject;
    let low = 0;
    let high = list.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((projects[list[middle] as number] as number) < projectId) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** `refilter` false: the caller empties the whole group and rebuilds its filter once. */
  private removeGrantSlot(slot: number, refilter = true): void {
    const id = this.grantIds[slot];
    if (id === undefined || id === '' || this.grantSlotById.get(id) !== slot) return;
    this.grantSlotById.delete(id);
    this.grantIds[slot] = '';
    this.grantExpiresAt.delete(slot);
    const project = this.projects.get(this.grantProject[slot] ?? 0);
    if (project !== undefined) removeValue(project.grantSlots, slot);
    const memberId = this.grantMember[slot] ?? 0;
    if (memberId !== 0) {
      const member = this.members.get(memberId);
      if (member?.direct != null) {
        removeValue(member.direct, slot);
        if (member.direct.length === 0) member.direct = null;
      }
    } else {
      const group = this.groupsBySlot[this.grantGroup[slot] ?? NO_GRANT];
      if (group !== undefined) {
        removeValue(group.grants, slot);
        if (refilter) this.rebuildFilter(group);
      }
    }
    this.grantMember[slot] = 0;
    this.grantGroup[slot] = NO_GRANT;
    this.freeSlots.push(slot);
  }

  applyProject(projectId: number, reload: ProjectReload): void {
    const existing = this.projects.get(projectId);
    if (existing !== undefined)
      for (const slot of [...existing.grantSlots]) this.removeGrantSlot(slot);
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
      grantSlots: [],
    };
    project.name = reload.project.name;
    project.environmentId = reload.project.environment_id;
    project.environmentType = environment?.type ?? '';
    this.projects.set(projectId, project);
    for (const row of reload.grants) this.addGrant(row);
  }

  applyGrant(grantId: string, row: GrantIndexRow | undefined): void {
    const existing = this.grantSlotById.get(grantId);
    if (existing !== undefined) this.removeGrantSlot(existing);
    if (row !== undefined) this.addGrant(row);
  }

  /** Fills an empty workspace index from a full load; memberships and grants follow in pages, then finishLoad(). */
  load(rows: WorkspaceIndexRows): void {
    this.loading = true;
    this.environments = rows.environments.map((e) => ({ id: e.id, type: e.type }));
    this.environmentsByType = new Map(this.environments.map((e) => [e.type, e]));
    this.setEnvironmentAndLegacyRoles(rows.legacyRoles, rows.environmentRoles);
    for (const row of rows.projectRoles) this.setProjectRole(row);
    // Rows come in no particular order: the dense array is laid out once they are all in.
    this.denseMembers = null;
    for (const row of rows.members) this.upsertMember(row);
    this.layOutDense();
    const rolesOf = new Map<number, MemberRoleIndexRow[]>();
    for (const row of rows.memberRoles) {
      const list = rolesOf.get(row.member_id);
      if (list === undefined) rolesOf.set(row.member_id, [row]);
      else list.push(row);
    }
    for (const [memberId, list] of rolesOf) {
      const member = this.members.get(memberId);
      if (member !== undefined) member.roles = this.roleList(list);
    }
    const suspended = new Map<number, SuspensionRow[]>();
    for (const row of rows.suspensions)
      suspended.set(row.member_id, [...(suspended.get(row.member_id) ?? []), row]);
    for (const [memberId, list] of suspended) {
      const member = this.members.get(memberId);
      if (member !== undefined) member.suspendedIn = suspensionsOf(list);
    }
    for (const row of rows.groups) this.newGroup(row.id, row.name, row.system === 1);
    this.systemGroups = [...this.groups.values()].filter((g) => g.system);
    const environmentTypes = new Map(this.environments.map((e) => [e.id, e.type]));
    for (const row of rows.projects) {
      this.projects.set(row.id, {
        id: row.id,
        name: row.name,
        environmentId: row.environment_id,
        environmentType: environmentTypes.get(row.environment_id) ?? '',
        grantSlots: [],
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

  /** Sizes the grant columns for a full load of `count` grants, so the load never regrows them. */
  reserveGrants(count: number): void {
    const capacity = Math.max(MIN_CAPACITY, Math.ceil(count * 1.125));
    if (capacity > this.capacity) this.resizeColumns(capacity);
    this.grantSlotById.reserve(capacity);
  }

  /**
   * Ends a full load: orders every holder's grants by project, once, and trims every array to its
   * length. Arrays grown by push keep spare room (16 slots for a 3-item list); across 100,000
   * members that slack was a fifth of the index.
   */
  finishLoad(): void {
    this.loading = false;
    const projects = this.grantProject;
    const byProject = (a: number, b: number) =>
      (projects[a] as number) - (projects[b] as number) || a - b;
    for (const member of this.members.values()) {
      if (member.direct !== null) member.direct.sort(byProject);
      if (member.groups !== NO_SLOTS) member.groups = member.groups.slice();
      if (member.groupExpiresMs !== null) member.groupExpiresMs = member.groupExpiresMs.slice();
      if (member.groupExpiresAt !== null) member.groupExpiresAt = member.groupExpiresAt.slice();
    }
    for (const group of this.groups.values()) {
      group.grants.sort(byProject);
      group.memberIds = group.memberIds.slice();
    }
    this.renumberGrants();
  }

  /**
   * Gives every holder's grants consecutive slots, in its list's order, so the project column a
   * check binary-searches is a few adjacent cache lines instead of scattered ones; then trims the
   * columns and every list to size. Grants added later take free or new slots as usual.
   */
  private renumberGrants(): void {
    const order: number[] = [];
    for (const group of this.groups.values()) for (const slot of group.grants) order.push(slot);
    for (const member of this.members.values())
      if (member.direct !== null) for (const slot of member.direct) order.push(slot);
    const newSlot = new Int32Array(this.grantIds.length).fill(NO_GRANT);
    order.forEach((old, slot) => (newSlot[old] = slot));
    const capacity = Math.max(MIN_CAPACITY, Math.ceil(order.length * 1.125));
    const columns = {
      project: new Int32Array(capacity),
      role: new Int32Array(capacity),
      member: new Int32Array(capacity),
      group: new Int32Array(capacity),
      created: new Float64Array(capacity),
      expires: new Float64Array(capacity),
    };
    const ids: string[] = [];
    const expiresAt = new Map<number, string>();
    order.forEach((old, slot) => {
      columns.project[slot] = this.grantProject[old] as number;
      columns.role[slot] = this.grantRole[old] as number;
      columns.member[slot] = this.grantMember[old] as number;
      columns.group[slot] = this.grantGroup[old] as number;
      columns.created[slot] = this.grantCreatedMs[old] as number;
      columns.expires[slot] = this.grantExpiresMs[old] as number;
      ids.push(this.grantIds[old] ?? '');
      const at = this.grantExpiresAt.get(old);
      if (at !== undefined) expiresAt.set(slot, at);
    });
    this.grantProject = columns.project;
    this.grantRole = columns.role;
    this.grantMember = columns.member;
    this.grantGroup = columns.group;
    this.grantCreatedMs = columns.created;
    this.grantExpiresMs = columns.expires;
    this.capacity = capacity;
    this.grantIds = ids;
    this.grantExpiresAt.clear();
    for (const [slot, at] of expiresAt) this.grantExpiresAt.set(slot, at);
    this.freeSlots.length = 0;
    this.grantSlotById.refill(order.map((_, slot) => slot));
    const renumber = (list: number[]) => list.map((old) => newSlot[old] as number);
    for (const group of this.groups.values()) group.grants = renumber(group.grants);
    for (const member of this.members.values())
      if (member.direct !== null) member.direct = renumber(member.direct);
    for (const project of this.projects.values())
      project.grantSlots = renumber(project.grantSlots).filter((slot) => slot !== NO_GRANT);
  }

  private resizeColumns(capacity: number): void {
    this.grantProject = resizedInt32(this.grantProject, capacity);
    this.grantRole = resizedInt32(this.grantRole, capacity);
    this.grantMember = resizedInt32(this.grantMember, capacity);
    this.grantGroup = resizedInt32(this.grantGroup, capacity);
    this.grantCreatedMs = resizedFloat64(this.grantCreatedMs, capacity);
    this.grantExpiresMs = resizedFloat64(this.grantExpiresMs, capacity);
    this.capacity = capacity;
  }

  // --- views for explain and access reviews (not the hot path: these allocate) -----------------

  grantView(slot: number): GrantEntry {
    const memberId = this.grantMember[slot] ?? 0;
    const projectId = this.grantProject[slot] ?? 0;
    const project = this.projects.get(projectId);
    const role = this.rolesBySlot[this.grantRole[slot] ?? 0];
    if (project === undefined || role === undefined)
      throw new Error(`access index: grant slot ${slot} names a missing project or role`);
    return {
      id: this.grantIds[slot] ?? '',
      project,
      role,
      member: memberId === 0 ? null : (this.members.get(memberId) ?? null),
      group: memberId === 0 ? (this.groupsBySlot[this.grantGroup[slot] ?? NO_GRANT] ?? null) : null,
      createdMs: this.grantCreatedMs[slot] ?? 0,
      expiresAt: this.grantExpiresAt.get(slot) ?? null,
      expiresMs: this.grantExpiresMs[slot] ?? NEVER,
    };
  }

  /** The membership at position `at` of the member's parallel membership arrays. */
  private membershipView(member: MemberEntry, group: GroupEntry, at: number): MembershipEntry {
    return {
      member,
      group,
      expiresAt: member.groupExpiresAt?.[at] ?? null,
      expiresMs: member.groupExpiresMs?.[at] ?? NEVER,
    };
  }

  /** The member's memberships, expired ones included. */
  membershipsOf(member: MemberEntry): MembershipEntry[] {
    const found: MembershipEntry[] = [];
    member.groups.forEach((slot, i) => {
      const group = this.groupsBySlot[slot];
      if (group !== undefined) found.push(this.membershipView(member, group, i));
    });
    return found;
  }

  /** The group's memberships, expired ones included. */
  membersOf(group: GroupEntry): MembershipEntry[] {
    const found: MembershipEntry[] = [];
    for (const memberId of group.memberIds) {
      const member = this.members.get(memberId);
      if (member !== undefined)
        found.push(this.membershipView(member, group, member.groups.indexOf(group.slot)));
    }
    return found;
  }

  /** Every grant on the project. */
  grantsOf(project: ProjectEntry): GrantEntry[] {
    return project.grantSlots.map((slot) => this.grantView(slot));
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
    const take = (list: number[], membership: MembershipEntry | null) => {
      let i = projectId === null ? 0 : this.firstAtOrAfter(list, projectId);
      for (; i < list.length; i++) {
        const slot = list[i] as number;
        if (projectId !== null && this.grantProject[slot] !== projectId) break;
        found.push({ grant: this.grantView(slot), membership });
      }
    };
    if (member.direct !== null) take(member.direct, null);
    for (const membership of this.membershipsOf(member)) take(membership.group.grants, membership);
    for (const group of this.systemGroups) take(group.grants, null);
    return found;
  }
}

function suspensionsOf(rows: SuspensionRow[]): readonly number[] | null {
  return rows.length === 0 ? null : Object.freeze(rows.map((row) => row.environment_id));
}

/** Removes one occurrence of a value from a small array (order kept). */
function removeValue(list: number[], value: number): void {
  const at = list.indexOf(value);
  if (at >= 0) list.splice(at, 1);
}

/** The privileges a project-role config entry expands to, as describeRoleConfig expands them. */
export function projectPrivilegesOf(
  resource: string,
  privileges: 'all' | string[],
): readonly string[] {
  if (privileges !== 'all') return privileges;
  return PROJECT_RESOURCES[resource]?.privileges ?? ['all'];
}
