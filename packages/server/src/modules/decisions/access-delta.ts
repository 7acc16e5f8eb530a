/**
 * A delta of the access index: the rows of the entities a set of changes touched, as the reload
 * table (markDirty in access-index.ts) names them. The server's index reads one and applies it on
 * each sync (access-index.ts); GET /api/access/snapshot/changes sends one, and the SDK's local
 * authorizer applies it to its snapshot-built index (snapshot-index.ts) with this same code. So
 * what a change reloads, and in which order the rows are applied, is written once.
 *
 * This file is pure (types and in-memory changes only): the SDK bundles it.
 */
import type {
  EndUserGroupReload,
  EndUserReload,
  EndUserSliceRows,
  EnvironmentRoleIndexRow,
  FeatureGranteesReload,
  FeaturePoliciesReload,
  FeatureReload,
  GrantIndexRow,
  GroupReload,
  LegacyRoleIndexRow,
  MemberReload,
  ProjectReload,
  ProjectRoleIndexRow,
} from './decisions.repository.js';
import {
  EndUserSlice,
  applyDirectGrants,
  applyEndUser,
  applyEndUserGroup,
  applyFeature,
  applyFeatureGrantees,
  applyFeaturePolicies,
  dropPolicy,
  removeEndUser,
  removeEndUserGroup,
} from './end-user-index.js';
import type { WorkspaceIndex } from './workspace-index.js';

/** The collaborator rows to reload. A missing row (null) is a deletion. JSON-safe. */
export interface CollaboratorDelta {
  environmentRoles: {
    legacyRoles: LegacyRoleIndexRow[];
    environmentRoles: EnvironmentRoleIndexRow[];
  } | null;
  projectRoles: [string, ProjectRoleIndexRow | null][];
  members: [number, MemberReload][];
  groups: [string, GroupReload][];
  projects: [number, ProjectReload][];
  grants: [string, GrantIndexRow | null][];
}

/** The end-user rows to reload: the whole slice, or users and groups one by one. JSON-safe. */
export interface EndUserDelta {
  slice: EndUserSliceRows | null;
  users: [number, EndUserReload][];
  groups: [number, EndUserGroupReload][];
  /**
   * The server's own index only (what GET /api/access/snapshot/changes sends has none: a local
   * authorizer of an earlier version would pass them over, so there those changes reload the
   * slice, as they did): deleted users and groups, taken out in memory; users whose direct
   * feature grants are read again; policies taken out of their feature before the policies of
   * the features that hold them now are reloaded (their grants kept); features reloaded whole;
   * a feature's grants to the users and groups its access change named.
   */
  removedUsers?: number[];
  removedGroups?: number[];
  directGrants?: [number, { id: number; feature_id: number }[]][];
  policies?: number[];
  featurePolicies?: [number, FeaturePoliciesReload][];
  features?: [number, FeatureReload][];
  featureGrants?: [number, FeatureGranteesReload][];
}

export const collaboratorDeltaIsEmpty = (delta: CollaboratorDelta): boolean =>
  delta.environmentRoles === null &&
  delta.projectRoles.length === 0 &&
  delta.members.length === 0 &&
  delta.groups.length === 0 &&
  delta.projects.length === 0 &&
  delta.grants.length === 0;

/** Changes the index without awaiting, so a check never sees half a reload. */
export function applyCollaboratorDelta(index: WorkspaceIndex, delta: CollaboratorDelta): void {
  if (delta.environmentRoles !== null)
    index.setEnvironmentAndLegacyRoles(
      delta.environmentRoles.legacyRoles,
      delta.environmentRoles.environmentRoles,
    );
  for (const [roleId, row] of delta.projectRoles) {
    if (row !== null) index.setProjectRole(row);
    else index.dropProjectRole(roleId);
  }
  // Members and groups before projects and grants: a grant needs both of its ends in the index.
  // A reload's absent row (`undefined`) travels as a missing JSON field and reads back the same.
  for (const [memberId, reload] of delta.members) index.applyMember(memberId, reload);
  for (const [groupId, reload] of delta.groups) index.applyGroup(groupId, reload);
  for (const [projectId, reload] of delta.projects) index.applyProject(projectId, reload);
  for (const [grantId, row] of delta.grants) index.applyGrant(grantId, row ?? undefined);
}

/** The slice after the delta: a new one when the delta holds it whole, else the same, changed. */
export function applyEndUserDelta(slice: EndUserSlice, delta: EndUserDelta): EndUserSlice {
  if (delta.slice !== null) return new EndUserSlice(delta.slice);
  // Deletions first: a reload of something deleted since reads no row and changes nothing.
  for (const id of delta.removedGroups ?? []) removeEndUserGroup(slice, id);
  for (const id of delta.removedUsers ?? []) removeEndUser(slice, id);
  // Groups before users (Everyone included: its creation is an event too): a user reload links
  // the user to groups the slice must already hold; and both before the features, whose grants
  // hold their groups.
  for (const [id, reload] of delta.groups) applyEndUserGroup(slice, id, reload);
  for (const [id, reload] of delta.users) applyEndUser(slice, id, reload);
  for (const [id, rows] of delta.directGrants ?? []) applyDirectGrants(slice, id, rows);
  for (const id of delta.policies ?? []) dropPolicy(slice, id);
  for (const [id, reload] of delta.featurePolicies ?? []) applyFeaturePolicies(slice, id, reload);
  for (const [id, reload] of delta.features ?? []) applyFeature(slice, id, reload);
  for (const [id, reload] of delta.featureGrants ?? []) applyFeatureGrantees(slice, id, reload);
  return slice;
}
