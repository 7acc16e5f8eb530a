/**
 * Privilege evaluation: what the access index's data means. "May member M do R:P on project X"
 * (allowsProject: direct grants, live memberships' group grants, the system groups, then the
 * legacy role of the project's environment), "on environment E" (allowsEnvironment), the legacy
 * rules, and the projects a member can use now (projectBitsOf). The explain paths and the lists
 * of decisions.service.ts are built from these functions, so each rule is written once.
 *
 * The check path is here: nothing in allowsProject allocates or awaits; it reads the index's
 * columns directly (workspace-index.ts keeps them public for that reason).
 */
import {
  ENVIRONMENT_RESOURCES,
  LEGACY_CATEGORY_MAPPING,
  type LegacyPrivileges,
} from '@roster/contracts';
import {
  FILTER_WORDS,
  projectFilterBit,
  type EnvironmentRoleAssignment,
  type GroupEntry,
  type LegacyProjectRole,
  type LegacyRoleEntry,
  type MemberEntry,
  type ProjectBits,
  type ProjectEntry,
  type RoleEntry,
  type WorkspaceIndex,
} from './workspace-index.js';

/**
 * May the member use `bit` on the project at `nowMs`? Direct grants, then every unexpired
 * membership's group grants, then the system groups. No allocation, no database.
 */
export function allowsProject(
  ws: WorkspaceIndex,
  member: MemberEntry,
  projectId: number,
  bit: number,
  nowMs: number,
): boolean {
  if (bit < 0) return false;
  if (member.suspendedIn !== null && suspendedOnProject(ws, member, projectId)) return false;
  const word = bit >>> 5;
  const mask = 1 << (bit & 31);
  if (member.direct !== null && holderAllows(ws, member.direct, projectId, word, mask, nowMs))
    return true;
  const groups = member.groups;
  const expires = member.groupExpiresMs;
  const bySlot = ws.groupsBySlot;
  const filters = ws.projectFilters;
  const filterBit = projectFilterBit(projectId);
  const filterWord = filterBit >>> 5;
  const filterMask = 1 << (filterBit & 31);
  for (let i = 0; i < groups.length; i++) {
    const groupSlot = groups[i] as number;
    if (((filters[groupSlot * FILTER_WORDS + filterWord] as number) & filterMask) === 0) continue;
    if (expires !== null && (expires[i] as number) <= nowMs) continue;
    const group = bySlot[groupSlot];
    if (group !== undefined && holderAllows(ws, group.grants, projectId, word, mask, nowMs))
      return true;
  }
  const system = ws.systemGroups;
  for (let i = 0; i < system.length; i++) {
    const group = system[i] as GroupEntry;
    if (((filters[group.slot * FILTER_WORDS + filterWord] as number) & filterMask) === 0) continue;
    if (holderAllows(ws, group.grants, projectId, word, mask, nowMs)) return true;
  }
  // Last, so an answer a grant gives costs nothing more: a legacy role covers its environment.
  const legacy = legacyRoleOn(ws, member, projectId);
  return legacy !== undefined && ((legacy.project.bits[word] ?? 0) & mask) !== 0;
}

/**
 * The legacy role the member holds in the project's environment, if it applies to the project
 * (every project, or one it selects) and allows anything on projects (docs/decisions.md: legacy
 * roles). No allocation: on the check path.
 */
export function legacyRoleOn(
  ws: WorkspaceIndex,
  member: MemberEntry,
  projectId: number,
): LegacyProjectRole | undefined {
  const roles = member.roles;
  for (let i = 0; i < roles.length; i++) {
    const assignment = roles[i] as EnvironmentRoleAssignment;
    if (assignment.legacyRoleId === null) continue;
    const role = ws.legacyRoles.get(assignment.legacyRoleId);
    if (role?.project == null) continue;
    if (role.projectIds !== null && !role.projectIds.has(projectId)) continue;
    // Only now the project: most legacy assignments are `No access`, which stops above.
    const project = ws.projects.get(projectId);
    if (project?.environmentId === assignment.environmentId) return role as LegacyProjectRole;
  }
  return undefined;
}

/**
 * Every project the member's legacy roles cover, with the role (the rule of legacyRoleOn, for
 * the lists: not the check path). Suspensions are the caller's to apply, as for grants.
 */
export function legacyProjectsOf(
  ws: WorkspaceIndex,
  member: MemberEntry,
): { project: ProjectEntry; role: LegacyProjectRole }[] {
  const found: { project: ProjectEntry; role: LegacyProjectRole }[] = [];
  for (const assignment of member.roles) {
    if (assignment.legacyRoleId === null) continue;
    const role = ws.legacyRoles.get(assignment.legacyRoleId);
    if (role?.project == null) continue;
    for (const project of ws.projects.values()) {
      if (project.environmentId !== assignment.environmentId) continue;
      if (role.projectIds !== null && !role.projectIds.has(project.id)) continue;
      found.push({ project, role: role as LegacyProjectRole });
    }
  }
  return found;
}

/** The legacy role (whole) the member holds in an environment, if it is a legacy one. */
export function legacyRoleIn(
  ws: WorkspaceIndex,
  member: MemberEntry,
  environmentId: number,
): LegacyRoleEntry | undefined {
  const assignment = roleIn(member, environmentId);
  if (assignment === undefined || assignment.legacyRoleId === null) return undefined;
  return ws.legacyRoles.get(assignment.legacyRoleId);
}

/** Does a grant of this holder on the project give the bit (word, mask) and is it live at nowMs? */
function holderAllows(
  ws: WorkspaceIndex,
  list: number[],
  projectId: number,
  word: number,
  mask: number,
  nowMs: number,
): boolean {
  const projects = ws.grantProject;
  for (let i = ws.firstAtOrAfter(list, projectId); i < list.length; i++) {
    const slot = list[i] as number;
    if (projects[slot] !== projectId) return false;
    if ((ws.grantExpiresMs[slot] as number) <= nowMs) continue;
    const role = ws.rolesBySlot[ws.grantRole[slot] as number];
    if (role !== undefined && ((role.bits[word] ?? 0) & mask) !== 0) return true;
  }
  return false;
}

/** Is the member deactivated by an identity provider in the project's environment? */
export function suspendedOnProject(
  ws: WorkspaceIndex,
  member: MemberEntry,
  projectId: number,
): boolean {
  if (member.suspendedIn === null) return false;
  const project = ws.projects.get(projectId);
  return project !== undefined && member.suspendedIn.includes(project.environmentId);
}

/** The member's role in an environment, if any. */
export function roleIn(
  member: MemberEntry,
  environmentId: number,
): EnvironmentRoleAssignment | undefined {
  return member.roles.find((r) => r.environmentId === environmentId);
}

/** How many of the member's memberships are live at nowMs. */
export function liveGroupCount(member: MemberEntry, nowMs: number): number {
  const expires = member.groupExpiresMs;
  if (expires === null) return member.groups.length;
  return expires.filter((ms) => ms > nowMs).length;
}

/**
 * The projects a member can use now, each with the union of its privilege bits: the "list a
 * user's projects" primitive. One Map and one buffer per call.
 */
export function projectBitsOf(ws: WorkspaceIndex, member: MemberEntry, nowMs: number): ProjectBits {
  const words = (ws.bitCount >>> 5) + 1;
  const rowOf = new Map<number, number>();
  const projectIds: number[] = [];
  let bits = new Uint32Array(words * 16);
  const add = (list: number[]) => {
    for (let i = 0; i < list.length; i++) {
      const slot = list[i] as number;
      if ((ws.grantExpiresMs[slot] as number) <= nowMs) continue;
      const projectId = ws.grantProject[slot] as number;
      if (member.suspendedIn !== null && suspendedOnProject(ws, member, projectId)) continue;
      let row = rowOf.get(projectId);
      if (row === undefined) {
        row = projectIds.push(projectId) - 1;
        rowOf.set(projectId, row);
        if ((row + 1) * words > bits.length) {
          const grown = new Uint32Array(bits.length * 2);
          grown.set(bits);
          bits = grown;
        }
      }
      const roleBits = (ws.rolesBySlot[ws.grantRole[slot] as number] as RoleEntry).bits;
      const base = row * words;
      for (let w = 0; w < roleBits.length; w++)
        bits[base + w] = (bits[base + w] as number) | (roleBits[w] as number);
    }
  };
  if (member.direct !== null) add(member.direct);
  const groups = member.groups;
  const expires = member.groupExpiresMs;
  for (let i = 0; i < groups.length; i++) {
    if (expires !== null && (expires[i] as number) <= nowMs) continue;
    const group = ws.groupsBySlot[groups[i] as number];
    if (group !== undefined) add(group.grants);
  }
  for (const group of ws.systemGroups) add(group.grants);
  // Legacy roles: the projects of their environment they cover.
  for (const { project, role } of legacyProjectsOf(ws, member)) {
    if (member.suspendedIn?.includes(project.environmentId) === true) continue;
    let row = rowOf.get(project.id);
    if (row === undefined) {
      row = projectIds.push(project.id) - 1;
      rowOf.set(project.id, row);
      if ((row + 1) * words > bits.length) {
        const grown = new Uint32Array(Math.max(bits.length * 2, (row + 1) * words));
        grown.set(bits);
        bits = grown;
      }
    }
    const base = row * words;
    const roleBits = role.project.bits;
    for (let w = 0; w < roleBits.length; w++)
      bits[base + w] = (bits[base + w] as number) | (roleBits[w] as number);
  }
  return { projectIds, words, bits };
}

/** Environment-level privilege from the member's role in that environment (new or legacy). */
export function allowsEnvironment(
  ws: WorkspaceIndex,
  member: MemberEntry,
  environmentId: number,
  resource: string,
  privilege: string,
): boolean {
  const assignment = roleIn(member, environmentId);
  if (assignment === undefined) return false;
  return environmentRoleAllows(ws, assignment, resource, privilege);
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
