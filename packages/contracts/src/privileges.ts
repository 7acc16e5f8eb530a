/**
 * The privilege catalogue: what the legacy roles grant, and which resources the new environment
 * and project role configs name. Shared by the server (seeding, migration, effective privileges)
 * and the console (the privileges editor).
 */
import type { LegacyPrivileges, RoleConfig } from './common.js';

export interface ResourceDefinition {
  /** The label the privileges endpoints print, e.g. `Folders`. */
  label: string;
  privileges: readonly string[];
}

export const PROJECT_RESOURCES: Readonly<Record<string, ResourceDefinition>> = {
  recipe: {
    label: 'Recipes',
    privileges: ['read', 'create', 'update', 'delete', 'run', 'read_run_history'],
  },
  connection: { label: 'Connections', privileges: ['read', 'create', 'update', 'delete'] },
  folder: { label: 'Folders', privileges: ['view', 'create', 'update', 'delete'] },
  test_automation: { label: 'Test automation', privileges: ['read', 'run', 'manage'] },
  use_in_recipes: { label: 'Use in recipes', privileges: ['all'] },
  project_administration: {
    label: 'Project administration',
    privileges: ['access_control', 'deploy', 'settings'],
  },
};

export const ENVIRONMENT_RESOURCES: Readonly<Record<string, ResourceDefinition>> = {
  team: { label: 'Collaborators', privileges: ['read', 'invite', 'update', 'delete'] },
  manage_projects: {
    label: 'Projects',
    privileges: ['read', 'create', 'delete', 'access_control'],
  },
  lookup_table: { label: 'Lookup tables', privileges: ['read', 'create', 'update', 'delete'] },
  roles: { label: 'Roles', privileges: ['read', 'create', 'update', 'delete'] },
  api_clients: { label: 'API clients', privileges: ['read', 'create', 'update', 'delete'] },
  audit_log: { label: 'Audit log', privileges: ['read'] },
};

/** The privileges of the legacy system roles (`LEGACY_SYSTEM_ROLES`). */
const LEGACY_ADMIN: LegacyPrivileges = {
  Recipes: ['read', 'create', 'update', 'delete', 'run', 'read_run_history'],
  Connections: ['read', 'create', 'update', 'delete'],
  Folders: ['read', 'create', 'update', 'delete'],
  Projects: ['read', 'create', 'delete', 'access_control'],
  'Lookup tables': ['read', 'create', 'update', 'delete'],
  'Use in recipes': ['all'],
  'Test automation': ['read', 'run', 'manage'],
  Collaborators: ['read', 'invite', 'update', 'delete'],
  Roles: ['read', 'create', 'update', 'delete'],
  'API clients': ['read', 'create', 'update', 'delete'],
  'Audit log': ['read'],
};
const LEGACY_ANALYST: LegacyPrivileges = {
  Recipes: ['read', 'create', 'update', 'delete', 'run', 'read_run_history'],
  Connections: ['read', 'create', 'update', 'delete'],
  Folders: ['read', 'create', 'update', 'delete'],
  Projects: ['read', 'create'],
  'Lookup tables': ['read', 'create', 'update', 'delete'],
  'Use in recipes': ['all'],
  'Test automation': ['read', 'run'],
};
const LEGACY_OPERATOR: LegacyPrivileges = {
  Recipes: ['read', 'run', 'read_run_history'],
  Folders: ['read'],
  Projects: ['read'],
  'Use in recipes': ['all'],
  'Test automation': ['read'],
};
/** Legacy system roles, seeded in every workspace. `No access` is also accepted as `NoAccess`. */
export const LEGACY_SYSTEM_ROLES: Readonly<Record<string, LegacyPrivileges>> = {
  Admin: LEGACY_ADMIN,
  Analyst: LEGACY_ANALYST,
  Operator: LEGACY_OPERATOR,
  'No access': {},
};
export const NO_ACCESS_ROLE = 'No access';
export const NO_ACCESS_ALIASES: readonly string[] = ['No access', 'NoAccess'];

/**
 * Where each legacy privilege category goes in the new model: to the environment role or to the
 * project role, under which resource key, with legacy privilege names renamed where they differ.
 */
export const LEGACY_CATEGORY_MAPPING: Readonly<
  Record<
    string,
    { scope: 'environment' | 'project'; resource: string; rename?: Record<string, string> }
  >
> = {
  Recipes: { scope: 'project', resource: 'recipe' },
  Connections: { scope: 'project', resource: 'connection' },
  Folders: { scope: 'project', resource: 'folder', rename: { read: 'view' } },
  'Test automation': { scope: 'project', resource: 'test_automation' },
  'Use in recipes': { scope: 'project', resource: 'use_in_recipes' },
  Projects: { scope: 'environment', resource: 'manage_projects' },
  'Lookup tables': { scope: 'environment', resource: 'lookup_table' },
  Collaborators: { scope: 'environment', resource: 'team' },
  Roles: { scope: 'environment', resource: 'roles' },
  'API clients': { scope: 'environment', resource: 'api_clients' },
  'Audit log': { scope: 'environment', resource: 'audit_log' },
};

/** Splits a legacy privilege map into the new environment and project role configs. */
export function convertLegacyPrivileges(privileges: LegacyPrivileges): {
  environment: RoleConfig;
  project: RoleConfig;
} {
  const environment: RoleConfig = {};
  const project: RoleConfig = {};
  for (const [category, names] of Object.entries(privileges)) {
    const mapping = LEGACY_CATEGORY_MAPPING[category];
    if (mapping === undefined || names.length === 0) continue;
    const target = mapping.scope === 'environment' ? environment : project;
    const renamed = names.map((name) => mapping.rename?.[name] ?? name);
    target[mapping.resource] = { privileges: renamed.includes('all') ? 'all' : renamed };
  }
  return { environment, project };
}

/** Every resource of a catalogue with `all` privileges. */
function everything(catalogue: Readonly<Record<string, ResourceDefinition>>): RoleConfig {
  return Object.fromEntries(Object.keys(catalogue).map((key) => [key, { privileges: 'all' }]));
}

const ANALYST = convertLegacyPrivileges(LEGACY_ANALYST);
const OPERATOR = convertLegacyPrivileges(LEGACY_OPERATOR);

/**
 * The environment and project roles the system-roles migration creates. Each is the conversion of
 * one legacy system role (by `convertLegacyPrivileges`, as a custom role is converted), so a
 * migrated collaborator keeps exactly the privileges they had: nothing taken, nothing added.
 *
 * The admin roles are `all`: legacy `Admin` holds every privilege of the legacy catalogue, i.e. it
 * means "everything". Its conversion covers the whole environment catalogue and every project
 * resource a legacy category maps to; the one project resource no legacy category maps to,
 * `project_administration` (access_control, deploy, settings), did not exist as a privilege in
 * the legacy model, where only an Admin could do those things. See docs/roles-migration.md.
 */
export const SYSTEM_ENVIRONMENT_ROLES: Readonly<Record<string, RoleConfig>> = {
  EnvironmentAdmin: everything(ENVIRONMENT_RESOURCES),
  EnvironmentManager: ANALYST.environment,
  Member: OPERATOR.environment,
};

export const SYSTEM_PROJECT_ROLES: Readonly<Record<string, RoleConfig>> = {
  ProjectAdmin: everything(PROJECT_RESOURCES),
  AdvancedBuilder: ANALYST.project,
  ProjectOperator: OPERATOR.project,
};

/** What each legacy system role becomes: the environment and project role converted from it. */
export const LEGACY_SYSTEM_ROLE_MIGRATION: Readonly<
  Record<string, { environment_role: string; project_role: string } | null>
> = {
  Admin: { environment_role: 'EnvironmentAdmin', project_role: 'ProjectAdmin' },
  Analyst: { environment_role: 'EnvironmentManager', project_role: 'AdvancedBuilder' },
  Operator: { environment_role: 'Member', project_role: 'ProjectOperator' },
  'No access': null,
};
/**
 * What a legacy role allows on every project of the environment where a collaborator holds it:
 * in the legacy model a role applies to the whole environment. It is exactly the project role the
 * migration grants on each project for that role (a system role's migration role, a custom role's
 * converted project half), so migrating changes no one's project privileges. The decision index
 * uses it for checks and the privilege lists; the migration tool derives its grants from the same
 * tables.
 */
export function legacyProjectConfig(role: {
  name: string;
  system: boolean;
  privileges: LegacyPrivileges;
}): RoleConfig {
  if (role.system) {
    const mapping = LEGACY_SYSTEM_ROLE_MIGRATION[role.name];
    if (mapping === null) return {};
    if (mapping !== undefined) return SYSTEM_PROJECT_ROLES[mapping.project_role] ?? {};
  }
  return convertLegacyPrivileges(role.privileges).project;
}

/** Moderators (grant type `federation_manager`) become environment and project admins. */
export const MODERATOR_MIGRATION = {
  environment_role: 'EnvironmentAdmin',
  project_role: 'ProjectAdmin',
};

/** Expands a role config into `{label: [privileges]}` as the privileges endpoints print it. */
export function describeRoleConfig(
  config: RoleConfig,
  catalogue: Readonly<Record<string, ResourceDefinition>>,
): Record<string, string[]> {
  const described: Record<string, string[]> = {};
  for (const [resource, entry] of Object.entries(config)) {
    const definition = catalogue[resource];
    const label = definition?.label ?? resource;
    const privileges =
      entry.privileges === 'all' ? [...(definition?.privileges ?? ['all'])] : [...entry.privileges];
    described[label] = privileges;
  }
  return described;
}
