/**
 * The end-user slice of the access index: end users (status, environment access), their groups
 * (Everyone included), features, feature grants and policies with their tools and targets, so
 * "may this end user use this feature (and tool) in this environment" is answered from memory.
 * The rule is the one docs/end-users.md states (lock, status, environment access, deny,
 * require_approval, allow or grant, else deny); `evaluateEndUser` applies it and says why.
 * Approval requests are not here: using or creating one is a write (end-user-decisions.ts).
 */
import type { DecisionReason, PolicyEffect } from '@roster/contracts';
import { fromJson } from '../../storage/json.js';
import { inEveryone } from '../memberships/everyone.js';
import type {
  EndUserGroupReload,
  EndUserReload,
  EndUserSliceRows,
  FeatureGranteesReload,
  FeaturePoliciesReload,
  FeatureReload,
} from './decisions.repository.js';

export interface EndUserEntry {
  id: number;
  name: string;
  email: string;
  /** The key of `usersByEmail` (the lower-cased address). */
  emailKey: string;
  status: string;
  /** Environment IDs the user has access to (a few: an array). */
  environments: number[];
  /** Explicit group memberships (Everyone is implicit). */
  groups: EndUserGroupEntry[];
}

export interface EndUserGroupEntry {
  id: number;
  environmentId: number;
  name: string;
  managedBy: string;
  system: boolean;
  /** Explicit members (both directions are kept so either side can be reloaded alone). */
  memberIds: Set<number>;
}

export interface FeatureEntry {
  id: number;
  environmentId: number;
  name: string;
  /**
   * In ID order, as the decisions endpoint lists them. Read-only: a change assigns a new list,
   * which is what tells a check's lookup (grantsReaching) to build itself again.
   */
  grants: readonly { id: number; userId: number | null; group: EndUserGroupEntry | null }[];
  /** In ID order. */
  policies: PolicyEntry[];
}

export interface PolicyEntry {
  id: number;
  name: string;
  effect: PolicyEffect;
  scopeType: string;
  /** Empty: every call to the feature. */
  tools: string[];
  userIds: Set<number>;
  /** In target order: the first group the user is in is the one the reason names. */
  groupIds: number[];
}

/**
 * Heap bytes per entry, as for the collaborator index (workspace-index.ts BYTES): measured with
 * --expose-gc on bench:tenants' workspaces (500 users: 320 KB of heap per slice).
 */
const BYTES = {
  slice: 2_000,
  user: 560,
  groupMember: 90,
  group: 400,
  feature: 300,
  // 60 for the entry, 37 for its place in the checks' lookup (grantsReaching) once built.
  featureGrant: 97,
  policy: 600,
} as const;

export class EndUserSlice {
  readonly users = new Map<number, EndUserEntry>();
  readonly usersByEmail = new Map<string, EndUserEntry>();
  readonly groups = new Map<number, EndUserGroupEntry>();
  /** The system group Everyone of each environment (every user belongs, with no membership row). */
  readonly everyone = new Map<number, EndUserGroupEntry>();
  readonly features = new Map<number, FeatureEntry>();

  /** Roughly the heap the slice holds, for the memory budget (access-index.ts); O(groups + features). */
  estimateBytes(): number {
    let bytes = BYTES.slice + this.users.size * BYTES.user + this.groups.size * BYTES.group;
    for (const group of this.groups.values()) bytes += group.memberIds.size * BYTES.groupMember;
    for (const feature of this.features.values()) {
      bytes += BYTES.feature + feature.grants.length * BYTES.featureGrant;
      bytes += feature.policies.length * BYTES.policy;
    }
    return bytes;
  }

  constructor(rows: EndUserSliceRows) {
    for (const row of rows.users) {
      const user: EndUserEntry = {
        id: row.id,
        name: row.name,
        email: row.email,
        emailKey: row.email_key,
        status: row.status,
        environments: [],
        groups: [],
      };
      this.users.set(row.id, user);
      this.usersByEmail.set(row.email_key, user);
    }
    for (const row of rows.environmentAccess)
      this.users.get(row.end_user_id)?.environments.push(row.environment_id);
    for (const row of rows.groups) {
      const group: EndUserGroupEntry = {
        id: row.id,
        environmentId: row.environment_id,
        name: row.name,
        managedBy: row.managed_by,
        system: row.system === 1,
        memberIds: new Set(),
      };
      this.groups.set(row.id, group);
      if (group.system) this.everyone.set(group.environmentId, group);
    }
    for (const row of rows.groupMembers) {
      const group = this.groups.get(row.group_id);
      const user = this.users.get(row.end_user_id);
      if (group === undefined || user === undefined) continue;
      user.groups.push(group);
      group.memberIds.add(user.id);
    }
    const grants = new Map<number, FeatureGrant[]>();
    for (const row of rows.features) {
      const list: FeatureGrant[] = [];
      grants.set(row.id, list);
      this.features.set(row.id, {
        id: row.id,
        environmentId: row.environment_id,
        name: row.name,
        grants: list,
        policies: [],
      });
    }
    for (const row of rows.featureGrants) grants.get(row.feature_id)?.push(grantEntry(this, row));
    const policies = new Map<number, PolicyEntry>();
    for (const row of rows.policies) {
      const policy = policyEntry(row);
      policies.set(row.id, policy);
      this.features.get(row.feature_id)?.policies.push(policy);
    }
    for (const row of rows.policyTargets) {
      const policy = policies.get(row.policy_id);
      if (policy !== undefined) addPolicyTarget(policy, row);
    }
  }
}

export type FeatureGrant = FeatureEntry['grants'][number];

function grantEntry(
  slice: EndUserSlice,
  row: EndUserSliceRows['featureGrants'][number],
): FeatureGrant {
  return {
    id: row.id,
    userId: row.end_user_id,
    group: row.group_id === null ? null : (slice.groups.get(row.group_id) ?? null),
  };
}

function policyEntry(row: EndUserSliceRows['policies'][number]): PolicyEntry {
  return {
    id: row.id,
    name: row.name,
    effect: row.effect as PolicyEffect,
    scopeType: row.scope_type,
    tools: fromJson<string[]>(row.tools),
    userIds: new Set(),
    groupIds: [],
  };
}

function addPolicyTarget(
  policy: PolicyEntry,
  row: EndUserSliceRows['policyTargets'][number],
): void {
  if (row.end_user_id !== null) policy.userIds.add(row.end_user_id);
  if (row.group_id !== null) policy.groupIds.push(row.group_id);
}

/**
 * Reloads one feature whole, its grants and policies with it (a `feature` event): a new entry
 * replaces the old one, or none when the feature is gone.
 * Proportional to the feature, not to the slice. The groups its grants name must be in the slice
 * already (applied first: a grant commits after its group, so its event is never read first).
 */
export function applyFeature(slice: EndUserSlice, id: number, reload: FeatureReload): void {
  const row = reload.feature;
  if (row === undefined) {
    slice.features.delete(id);
    return;
  }
  slice.features.set(id, {
    id,
    environmentId: row.environment_id,
    name: row.name,
    grants: reload.grants.map((grant) => grantEntry(slice, grant)),
    policies: policyEntries(reload),
  });
}

/**
 * A feature's grants to the users and groups its access change named, replaced by the rows read
 * (none for a grantee revoked): a pass over the feature's grants in memory, no read of the rest.
 * A feature not in the slice is gone (a new one is loaded by its creation's event, applied first).
 */
export function applyFeatureGrantees(
  slice: EndUserSlice,
  id: number,
  reload: FeatureGranteesReload,
): void {
  const feature = slice.features.get(id);
  if (feature === undefined) return;
  const users = new Set(reload.endUserIds);
  const groups = new Set(reload.groupIds);
  const kept = feature.grants.filter((grant) =>
    grant.group === null
      ? grant.userId === null || !users.has(grant.userId)
      : !groups.has(grant.group.id),
  );
  if (reload.rows.length === 0) {
    feature.grants = kept;
    return;
  }
  // In ID order, as the slice is built: both lists are, so one merge.
  const added = reload.rows.map((row) => grantEntry(slice, row));
  const merged: FeatureGrant[] = [];
  let next = added.shift();
  for (const grant of kept) {
    while (next !== undefined && next.id < grant.id) {
      merged.push(next);
      next = added.shift();
    }
    merged.push(grant);
  }
  if (next !== undefined) merged.push(next, ...added);
  feature.grants = merged;
}

/** A feature's policies reloaded (a `policy` event), its grants kept. */
export function applyFeaturePolicies(
  slice: EndUserSlice,
  id: number,
  reload: FeaturePoliciesReload,
): void {
  const feature = slice.features.get(id);
  if (feature !== undefined) feature.policies = policyEntries(reload);
}

function policyEntries(reload: FeaturePoliciesReload): PolicyEntry[] {
  const policies = new Map<number, PolicyEntry>();
  for (const row of reload.policies) policies.set(row.id, policyEntry(row));
  for (const target of reload.policyTargets) {
    const policy = policies.get(target.policy_id);
    if (policy !== undefined) addPolicyTarget(policy, target);
  }
  return [...policies.values()];
}

/**
 * Takes a policy out of whichever feature holds it (a `policy` event: deleted, or moved; the
 * policies of the feature it belongs to now are reloaded after this).
 */
export function dropPolicy(slice: EndUserSlice, id: number): void {
  for (const feature of slice.features.values()) {
    const at = feature.policies.findIndex((policy) => policy.id === id);
    if (at !== -1) feature.policies.splice(at, 1);
  }
}

/**
 * Replaces an end user's direct feature grants with these rows (an environment revoked takes
 * them there): a pass over the slice's grants in memory, no read of the slice.
 */
export function applyDirectGrants(
  slice: EndUserSlice,
  userId: number,
  rows: readonly { id: number; feature_id: number }[],
): void {
  for (const feature of slice.features.values())
    if (feature.grants.some((grant) => grant.group === null && grant.userId === userId))
      feature.grants = feature.grants.filter(
        (grant) => grant.group !== null || grant.userId !== userId,
      );
  for (const row of rows) {
    const feature = slice.features.get(row.feature_id);
    if (feature === undefined) continue;
    // In ID order, as the slice is built: the grant goes before the first with a higher ID.
    const at = feature.grants.findIndex((grant) => grant.id > row.id);
    const grant: FeatureGrant = { id: row.id, userId, group: null };
    feature.grants =
      at === -1
        ? [...feature.grants, grant]
        : [...feature.grants.slice(0, at), grant, ...feature.grants.slice(at)];
  }
}

/**
 * Takes a deleted end user out of the slice (an `end_user.*.deleted` event): the deletion took
 * their memberships, feature grants and policy targets with it (foreign keys cascade), so the
 * slice drops the same, in memory.
 */
export function removeEndUser(slice: EndUserSlice, id: number): void {
  const user = slice.users.get(id);
  if (user !== undefined) {
    slice.users.delete(id);
    if (slice.usersByEmail.get(user.emailKey) === user) slice.usersByEmail.delete(user.emailKey);
    for (const group of user.groups) group.memberIds.delete(id);
  }
  applyDirectGrants(slice, id, []);
  for (const feature of slice.features.values())
    for (const policy of feature.policies) policy.userIds.delete(id);
}

/**
 * Takes a deleted end-user group out of the slice (an `end_user_group.*.deleted` event): its
 * memberships, feature grants and policy targets went with it (foreign keys cascade).
 */
export function removeEndUserGroup(slice: EndUserSlice, id: number): void {
  const group = slice.groups.get(id);
  if (group === undefined) return;
  slice.groups.delete(id);
  if (slice.everyone.get(group.environmentId) === group) slice.everyone.delete(group.environmentId);
  for (const userId of group.memberIds) {
    const user = slice.users.get(userId);
    if (user !== undefined) user.groups = user.groups.filter((held) => held !== group);
  }
  for (const feature of slice.features.values()) {
    if (feature.grants.some((grant) => grant.group === group))
      feature.grants = feature.grants.filter((grant) => grant.group !== group);
    for (const policy of feature.policies)
      if (policy.groupIds.includes(id))
        policy.groupIds = policy.groupIds.filter((groupId) => groupId !== id);
  }
}

/**
 * Reloads one end user in place (an `end_user` event). A deleted user is taken out by
 * removeEndUser, which also drops their feature grants and policy targets.
 */
export function applyEndUser(slice: EndUserSlice, id: number, reload: EndUserReload): void {
  const row = reload.user;
  if (row === undefined) return;
  let user = slice.users.get(id);
  if (user === undefined) {
    user = {
      id,
      name: row.name,
      email: row.email,
      emailKey: row.email_key,
      status: row.status,
      environments: [],
      groups: [],
    };
    slice.users.set(id, user);
  } else if (user.emailKey !== row.email_key && slice.usersByEmail.get(user.emailKey) === user) {
    slice.usersByEmail.delete(user.emailKey);
  }
  user.name = row.name;
  user.email = row.email;
  user.emailKey = row.email_key;
  user.status = row.status;
  user.environments = reload.environmentIds;
  slice.usersByEmail.set(row.email_key, user);
  for (const group of user.groups) group.memberIds.delete(id);
  user.groups = [];
  for (const groupId of reload.groupIds) {
    const group = slice.groups.get(groupId);
    if (group === undefined) continue;
    user.groups.push(group);
    group.memberIds.add(id);
  }
}

/**
 * Reloads one group in place (an `end_user_group` event other than a deletion: removeEndUserGroup):
 * the same object stays, so the feature grants that hold it see the change.
 */
export function applyEndUserGroup(
  slice: EndUserSlice,
  id: number,
  reload: EndUserGroupReload,
): void {
  const row = reload.group;
  if (row === undefined) return;
  let group = slice.groups.get(id);
  if (group === undefined) {
    group = {
      id,
      environmentId: row.environment_id,
      name: row.name,
      managedBy: row.managed_by,
      system: row.system === 1,
      memberIds: new Set(),
    };
    slice.groups.set(id, group);
  }
  group.environmentId = row.environment_id;
  group.name = row.name;
  group.managedBy = row.managed_by;
  group.system = row.system === 1;
  if (group.system) slice.everyone.set(group.environmentId, group);
  const wanted = new Set(reload.memberIds);
  for (const userId of group.memberIds) {
    if (wanted.has(userId)) continue;
    const user = slice.users.get(userId);
    if (user !== undefined) user.groups = user.groups.filter((g) => g !== group);
    group.memberIds.delete(userId);
  }
  for (const userId of wanted) {
    if (group.memberIds.has(userId)) continue;
    const user = slice.users.get(userId);
    // A user the slice has not loaded yet gets the membership from their own reload.
    if (user === undefined) continue;
    user.groups.push(group);
    group.memberIds.add(userId);
  }
}

export interface MatchedPolicy {
  policy: PolicyEntry;
  /** The group through which the scope covers the user; null for all-users and user scopes. */
  group: EndUserGroupEntry | null;
}

/** What the rule says, before any approval request is used or created. */
export type EndUserOutcome =
  | { kind: 'locked' | 'status' | 'no_environment_access'; reasons: DecisionReason[] }
  | { kind: 'deny'; reasons: DecisionReason[]; matches: MatchedPolicy[] }
  | { kind: 'require_approval'; approvals: MatchedPolicy[] }
  | { kind: 'allow'; reasons: DecisionReason[]; matches: MatchedPolicy[] }
  | { kind: 'no_access'; reasons: DecisionReason[] };

export function policyReason(match: MatchedPolicy, user: EndUserEntry): DecisionReason {
  const { policy, group } = match;
  const whom =
    policy.scopeType === 'all'
      ? 'all users'
      : group === null
        ? `${user.email} directly`
        : `${user.email} through group ${group.name}`;
  return {
    type: 'policy',
    message: `Policy "${policy.name}" (${policy.effect}) applies to ${whom}`,
    policy: { id: policy.id, name: policy.name, effect: policy.effect },
    ...(group === null ? {} : { group: { id: group.id, name: group.name } }),
  };
}

/**
 * A feature's grants as a check reads them: direct ones by user, group ones by group. Built on
 * the first check after the feature's grant list changed (the list is the cache's key: every
 * change assigns a new one), so that a check costs the user's own grants and groups, not the
 * feature's grant count: scanning the list cost 14 µs of CPU a check at 5,000 direct grants and
 * 224 µs at 100,000 (`npm run bench:feature-grant-checks`, docs/performance.md, "Nineteenth round").
 */
interface GrantLookup {
  /** A user has at most one direct grant of a feature, and a group one (unique constraints). */
  byUser: Map<number, FeatureGrant>;
  byGroup: Map<EndUserGroupEntry, FeatureGrant>;
}
const grantLookups = new WeakMap<readonly FeatureGrant[], GrantLookup>();

function grantLookup(grants: readonly FeatureGrant[]): GrantLookup {
  const cached = grantLookups.get(grants);
  if (cached !== undefined) return cached;
  const lookup: GrantLookup = { byUser: new Map(), byGroup: new Map() };
  for (const grant of grants) {
    if (grant.group !== null) lookup.byGroup.set(grant.group, grant);
    else if (grant.userId !== null) lookup.byUser.set(grant.userId, grant);
  }
  grantLookups.set(grants, lookup);
  return lookup;
}

/**
 * The feature's grants that reach this user, directly or through one of `groups` (theirs in the
 * feature's environment, groupsIn), in ID order as the list holds them.
 */
export function grantsReaching(
  feature: FeatureEntry,
  userId: number,
  groups: readonly EndUserGroupEntry[],
): FeatureGrant[] {
  const lookup = grantLookup(feature.grants);
  const reaching: FeatureGrant[] = [];
  const direct = lookup.byUser.get(userId);
  if (direct !== undefined) reaching.push(direct);
  for (const group of groups) {
    const grant = lookup.byGroup.get(group);
    if (grant !== undefined && !reaching.includes(grant)) reaching.push(grant);
  }
  if (reaching.length > 1) reaching.sort((a, b) => a.id - b.id);
  return reaching;
}

/** The user's groups in an environment, Everyone first. */
export function groupsIn(
  slice: EndUserSlice,
  user: EndUserEntry,
  environmentId: number,
): EndUserGroupEntry[] {
  const everyone = slice.everyone.get(environmentId);
  const groups =
    everyone === undefined || !inEveryone(user, user.environments.includes(environmentId))
      ? []
      : [everyone];
  for (const group of user.groups) if (group.environmentId === environmentId) groups.push(group);
  return groups;
}

/** Applies the end-user rule to one call, from memory. */
export function evaluateEndUser(
  slice: EndUserSlice,
  user: EndUserEntry,
  environment: { id: number; type: string },
  feature: FeatureEntry,
  tool: string | null,
): EndUserOutcome {
  if (user.status === 'locked') {
    return {
      kind: 'locked',
      reasons: [
        {
          type: 'locked',
          message: `${user.email} is locked: every call is denied until the user is unlocked`,
        },
      ],
    };
  }
  if (user.status !== 'active') {
    return {
      kind: 'status',
      reasons: [
        {
          type: 'status',
          message: `${user.email} is ${user.status}: only active users get access`,
        },
      ],
    };
  }
  if (!user.environments.includes(environment.id)) {
    return {
      kind: 'no_environment_access',
      reasons: [
        {
          type: 'no_environment_access',
          message: `${user.email} has no access to the ${environment.type.toUpperCase()} environment`,
        },
      ],
    };
  }
  const groups = groupsIn(slice, user, environment.id);
  const matches: MatchedPolicy[] = [];
  for (const policy of feature.policies) {
    if (policy.tools.length > 0 && (tool === null || !policy.tools.includes(tool))) continue;
    if (policy.scopeType === 'all') matches.push({ policy, group: null });
    else if (policy.scopeType === 'users' && policy.userIds.has(user.id))
      matches.push({ policy, group: null });
    else if (policy.scopeType === 'groups') {
      const groupId = policy.groupIds.find((id) => groups.some((g) => g.id === id));
      const group = groupId === undefined ? undefined : groups.find((g) => g.id === groupId);
      if (group !== undefined) matches.push({ policy, group });
    }
  }
  const denies = matches.filter((m) => m.policy.effect === 'deny');
  if (denies.length > 0)
    return { kind: 'deny', reasons: denies.map((m) => policyReason(m, user)), matches: denies };
  const approvals = matches.filter((m) => m.policy.effect === 'require_approval');
  if (approvals.length > 0) return { kind: 'require_approval', approvals };
  const allows = matches.filter((m) => m.policy.effect === 'allow');
  const reasons: DecisionReason[] = allows.map((m) => policyReason(m, user));
  for (const grant of grantsReaching(feature, user.id, groups)) {
    if (grant.group === null) {
      reasons.push({
        type: 'feature_grant',
        message: `Feature "${feature.name}" is granted to ${user.email} directly`,
        grant_id: grant.id,
      });
    } else {
      reasons.push({
        type: 'feature_grant',
        message: `Feature "${feature.name}" is granted to group ${grant.group.name}`,
        grant_id: grant.id,
        group: { id: grant.group.id, name: grant.group.name },
      });
    }
  }
  if (reasons.length > 0) return { kind: 'allow', reasons, matches: allows };
  return {
    kind: 'no_access',
    reasons: [
      {
        type: 'no_access',
        message: `No policy or grant gives ${user.email} access to feature "${feature.name}"${tool === null ? '' : ` (tool ${tool})`}`,
      },
    ],
  };
}
