/**
 * The legacy-roles migration tool (/api/roles_migration): system roles and one custom role into
 * environment and project roles, with dry runs that write nothing (spec 003, "Migration tool").
 */
import {
  ENVIRONMENT_RESOURCES,
  LEGACY_CATEGORY_MAPPING,
  LEGACY_SYSTEM_ROLES,
  PROJECT_RESOURCES,
} from '@roster/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMember, startRoster, type Roster } from '../helpers/roster.js';

const badRequest = (title: string) => ({ errors: [{ code: 'bad_request', title }] });

type Config = Record<string, { privileges: 'all' | string[] }>;

/**
 * The roles the system-roles migration creates, written out: each non-admin role is its legacy
 * role converted, and the admin roles hold everything (docs/roles-migration.md).
 */
const SYSTEM_ROLE_CONFIGS: {
  environment: { name: string; config: Config }[];
  project: { name: string; config: Config }[];
} = {
  environment: [
    {
      name: 'EnvironmentAdmin',
      config: {
        team: { privileges: 'all' },
        manage_projects: { privileges: 'all' },
        lookup_table: { privileges: 'all' },
        roles: { privileges: 'all' },
        api_clients: { privileges: 'all' },
        audit_log: { privileges: 'all' },
      },
    },
    {
      name: 'EnvironmentManager',
      config: {
        manage_projects: { privileges: ['read', 'create'] },
        lookup_table: { privileges: ['read', 'create', 'update', 'delete'] },
      },
    },
    { name: 'Member', config: { manage_projects: { privileges: ['read'] } } },
  ],
  project: [
    {
      name: 'ProjectAdmin',
      config: {
        recipe: { privileges: 'all' },
        connection: { privileges: 'all' },
        folder: { privileges: 'all' },
        test_automation: { privileges: 'all' },
        use_in_recipes: { privileges: 'all' },
        project_administration: { privileges: 'all' },
      },
    },
    {
      name: 'AdvancedBuilder',
      config: {
        recipe: { privileges: ['read', 'create', 'update', 'delete', 'run', 'read_run_history'] },
        connection: { privileges: ['read', 'create', 'update', 'delete'] },
        folder: { privileges: ['view', 'create', 'update', 'delete'] },
        use_in_recipes: { privileges: 'all' },
        test_automation: { privileges: ['read', 'run'] },
      },
    },
    {
      name: 'ProjectOperator',
      config: {
        recipe: { privileges: ['read', 'run', 'read_run_history'] },
        folder: { privileges: ['view'] },
        use_in_recipes: { privileges: 'all' },
        test_automation: { privileges: ['read'] },
      },
    },
  ],
};

function systemRoleConfig(kind: 'environment' | 'project', name: string): Config | undefined {
  return SYSTEM_ROLE_CONFIGS[kind].find((role) => role.name === name)?.config;
}

/** A copy of a request body without one field. */
function without<T extends object>(body: T, field: keyof T): Partial<T> {
  return Object.fromEntries(Object.entries(body).filter(([key]) => key !== field)) as Partial<T>;
}

async function createProject(
  roster: Roster,
  name: string,
  environmentType: string,
): Promise<{ id: number; name: string }> {
  const res = await roster.post('/api/projects', { name, environment_type: environmentType });
  if (res.status !== 201) throw new Error(`project create failed: ${res.status} ${res.text}`);
  return res.body.data;
}

/** Everything the migration may write, to compare before and after a dry run. */
async function snapshot(roster: Roster) {
  const [environmentRoles, projectRoles, legacyRoles, members, audit] = await Promise.all([
    roster.get('/api/environment_roles'),
    roster.get('/api/project_roles'),
    roster.get('/api/roles'),
    roster.get('/api/members'),
    roster.get('/api/audit_events?action=roles_migration.system_roles'),
  ]);
  const grants = await Promise.all(
    members.body.data.map((m: { id: number }) =>
      roster.get(`/api/members/${m.id}/project_grants`).then((r) => r.body),
    ),
  );
  return {
    environmentRoles: environmentRoles.body,
    projectRoles: projectRoles.body,
    legacyRoles: legacyRoles.body,
    members: members.body,
    grants,
    auditTotal: audit.body.data.length,
  };
}

describe('POST /api/roles_migration/system_roles', () => {
  let roster: Roster;
  let kim: { id: number; name: string; email: string };
  let noam: { id: number; name: string; email: string };
  let dana: { id: number; name: string; email: string };
  let nobody: { id: number; name: string; email: string };
  let devProject: { id: number; name: string };
  let prodProject: { id: number; name: string };
  let testProject: { id: number; name: string };

  beforeAll(async () => {
    roster = await startRoster();
    kim = await createMember(roster, {
      name: 'Kim',
      email: 'kim@example.com',
      env_roles: [
        { environment_type: 'dev', name: 'Admin' },
        { environment_type: 'test', name: 'Analyst' },
        { environment_type: 'prod', name: 'Operator' },
      ],
    });
    noam = await createMember(roster, {
      name: 'Noam',
      email: 'noam@example.com',
      env_roles: [{ environment_type: 'dev', name: 'Analyst' }],
    });
    const custom = await roster.post('/api/roles', {
      role: { name: 'HR_Developer', privileges: { Recipes: ['read'] } },
    });
    expect(custom.status).toBe(200);
    dana = await createMember(roster, {
      name: 'Dana',
      email: 'dana@example.com',
      env_roles: [
        { environment_type: 'dev', name: 'HR_Developer' },
        { environment_type: 'prod', name: 'Operator' },
      ],
    });
    nobody = await createMember(roster, {
      name: 'Nobody',
      email: 'nobody@example.com',
      env_roles: [{ environment_type: 'dev', name: 'NoAccess' }],
    });
    devProject = await createProject(roster, 'Dev Project', 'dev');
    testProject = await createProject(roster, 'Test Project', 'test');
    prodProject = await createProject(roster, 'Prod Project', 'prod');
  });
  afterAll(async () => {
    await roster.close();
  });

  const expectedPlan = () => ({
    environment_roles: SYSTEM_ROLE_CONFIGS.environment,
    project_roles: SYSTEM_ROLE_CONFIGS.project,
    collaborators: [
      {
        user_id: kim.id,
        email: 'kim@example.com',
        name: 'Kim',
        roles: [
          { environment: 'dev', name: 'EnvironmentAdmin' },
          { environment: 'test', name: 'EnvironmentManager' },
          { environment: 'prod', name: 'Member' },
        ],
      },
      {
        user_id: noam.id,
        email: 'noam@example.com',
        name: 'Noam',
        roles: [{ environment: 'dev', name: 'EnvironmentManager' }],
      },
      {
        user_id: dana.id,
        email: 'dana@example.com',
        name: 'Dana',
        roles: [{ environment: 'prod', name: 'Member' }],
      },
    ],
    projects: [
      {
        id: devProject.id,
        name: 'Dev Project',
        environment: 'dev',
        collaborators: [
          { user_id: kim.id, email: 'kim@example.com', name: 'Kim', project_role: 'ProjectAdmin' },
          {
            user_id: noam.id,
            email: 'noam@example.com',
            name: 'Noam',
            project_role: 'AdvancedBuilder',
          },
        ],
      },
      {
        id: testProject.id,
        name: 'Test Project',
        environment: 'test',
        collaborators: [
          {
            user_id: kim.id,
            email: 'kim@example.com',
            name: 'Kim',
            project_role: 'AdvancedBuilder',
          },
        ],
      },
      {
        id: prodProject.id,
        name: 'Prod Project',
        environment: 'prod',
        collaborators: [
          {
            user_id: kim.id,
            email: 'kim@example.com',
            name: 'Kim',
            project_role: 'ProjectOperator',
          },
          {
            user_id: dana.id,
            email: 'dana@example.com',
            name: 'Dana',
            project_role: 'ProjectOperator',
          },
        ],
      },
    ],
    moderators: [],
  });

  it('returns the plan without writing anything when dry_run=true is in the query', async () => {
    const before = await snapshot(roster);
    const res = await roster.post('/api/roles_migration/system_roles?dry_run=true');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: expectedPlan() });
    expect(Object.keys(res.body.data)).toEqual([
      'environment_roles',
      'project_roles',
      'collaborators',
      'projects',
      'moderators',
    ]);
    expect(await snapshot(roster)).toEqual(before);
    expect(before.environmentRoles.total).toBe(0);
    expect(before.projectRoles.total).toBe(0);
  });

  it('returns the plan without writing anything when dry_run is true in the body', async () => {
    const before = await snapshot(roster);
    const res = await roster.post('/api/roles_migration/system_roles', { dry_run: true });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: expectedPlan() });
    expect(await snapshot(roster)).toEqual(before);
  });

  it('returns 400 when dry_run is not a boolean', async () => {
    const res = await roster.post('/api/roles_migration/system_roles?dry_run=maybe');
    expect(res.status).toBe(400);
    expect(res.body.errors[0].code).toBe('bad_request');
    expect((await roster.get('/api/environment_roles')).body.total).toBe(0);
  });

  it('returns 403 to an API client without the DEV environment, and migrates nothing', async () => {
    const client = await roster.post('/api/api_clients', {
      name: 'Prod only (migration)',
      environment_types: ['prod'],
    });
    const res = await roster.post(
      '/api/roles_migration/system_roles',
      undefined,
      client.body.data.token,
    );
    expect(res.status).toBe(403);
    expect(res.body).toEqual({
      errors: [
        { code: 'forbidden', title: 'This API client has no access to the DEV environment' },
      ],
    });
    expect((await roster.get('/api/environment_roles')).body.total).toBe(0);
  });

  describe('without dry_run', () => {
    let migrated: { status: number; body: { data: unknown } };
    beforeAll(async () => {
      migrated = await roster.post('/api/roles_migration/system_roles');
    });

    it('answers with the plan it applied', () => {
      expect(migrated.status).toBe(200);
      expect(migrated.body).toEqual({ data: expectedPlan() });
    });

    it('creates the system environment roles', async () => {
      const res = await roster.get('/api/environment_roles');
      expect(res.body.data.map((r: { name: string; type: string }) => [r.name, r.type])).toEqual([
        ['EnvironmentAdmin', 'system'],
        ['EnvironmentManager', 'system'],
        ['Member', 'system'],
      ]);
      for (const role of res.body.data) {
        const detail = await roster.get(`/api/environment_roles/${role.id}`);
        expect(detail.body.data.config).toEqual(systemRoleConfig('environment', role.name));
      }
    });

    it('creates the system project roles', async () => {
      const res = await roster.get('/api/project_roles');
      // Created in one transaction, often in the same millisecond: compare without relying on
      // the order of equal creation times.
      const roles = res.body.data.map((r: { name: string; type: string }) => [r.name, r.type]);
      expect(roles.sort()).toEqual([
        ['AdvancedBuilder', 'system'],
        ['ProjectAdmin', 'system'],
        ['ProjectOperator', 'system'],
      ]);
      for (const role of res.body.data) {
        expect(role.id).toMatch(/^pr-/);
        const detail = await roster.get(`/api/project_roles/${role.id}`);
        expect(detail.body.data.config).toEqual(systemRoleConfig('project', role.name));
      }
    });

    it('switches collaborators to environment roles', async () => {
      const res = await roster.get(`/api/members/${kim.id}`);
      expect(res.body.data.roles).toEqual([
        { environment_type: 'dev', role_name: 'EnvironmentAdmin', role_type: 'environment' },
        {
          environment_type: 'test',
          role_name: 'EnvironmentManager',
          role_type: 'environment',
        },
        { environment_type: 'prod', role_name: 'Member', role_type: 'environment' },
      ]);
    });

    it('leaves custom legacy roles and No access as they were', async () => {
      const danaNow = await roster.get(`/api/members/${dana.id}`);
      expect(danaNow.body.data.roles).toEqual([
        { environment_type: 'dev', role_name: 'HR_Developer', role_type: 'privilege_group' },
        { environment_type: 'test', role_name: 'No access', role_type: 'privilege_group' },
        { environment_type: 'prod', role_name: 'Member', role_type: 'environment' },
      ]);
      const nobodyNow = await roster.get(`/api/members/${nobody.id}`);
      expect(
        nobodyNow.body.data.roles.map((r: { role_type: string; role_name: string }) => [
          r.role_name,
          r.role_type,
        ]),
      ).toEqual([
        ['No access', 'privilege_group'],
        ['No access', 'privilege_group'],
        ['No access', 'privilege_group'],
      ]);
    });

    it('reports the new roles and their privileges on /privileges', async () => {
      const res = await roster.get(`/api/members/${kim.id}/privileges`);
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual([
        {
          environment_type: 'dev',
          name: 'EnvironmentAdmin',
          role_type: 'environment',
          privileges: {
            Collaborators: ['read', 'invite', 'update', 'delete'],
            Projects: ['read', 'create', 'delete', 'access_control'],
            'Lookup tables': ['read', 'create', 'update', 'delete'],
            Roles: ['read', 'create', 'update', 'delete'],
            'API clients': ['read', 'create', 'update', 'delete'],
            'Audit log': ['read'],
          },
        },
        {
          environment_type: 'test',
          name: 'EnvironmentManager',
          role_type: 'environment',
          privileges: {
            Projects: ['read', 'create'],
            'Lookup tables': ['read', 'create', 'update', 'delete'],
          },
        },
        {
          environment_type: 'prod',
          name: 'Member',
          role_type: 'environment',
          privileges: { Projects: ['read'] },
        },
      ]);
    });

    it('grants the project roles on the projects of each environment', async () => {
      const res = await roster.get(`/api/members/${kim.id}/projects_privileges`);
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual([
        {
          environment: { id: expect.any(Number), type: 'dev' },
          projects: {
            [String(devProject.id)]: {
              Recipes: ['read', 'create', 'update', 'delete', 'run', 'read_run_history'],
              Connections: ['read', 'create', 'update', 'delete'],
              Folders: ['view', 'create', 'update', 'delete'],
              'Test automation': ['read', 'run', 'manage'],
              'Use in recipes': ['all'],
              'Project administration': ['access_control', 'deploy', 'settings'],
            },
          },
        },
        {
          environment: { id: expect.any(Number), type: 'test' },
          projects: {
            [String(testProject.id)]: {
              Recipes: ['read', 'create', 'update', 'delete', 'run', 'read_run_history'],
              Connections: ['read', 'create', 'update', 'delete'],
              Folders: ['view', 'create', 'update', 'delete'],
              'Use in recipes': ['all'],
              'Test automation': ['read', 'run'],
            },
          },
        },
        {
          environment: { id: expect.any(Number), type: 'prod' },
          projects: {
            [String(prodProject.id)]: {
              Recipes: ['read', 'run', 'read_run_history'],
              Folders: ['view'],
              'Test automation': ['read'],
              'Use in recipes': ['all'],
            },
          },
        },
      ]);
      const grants = await roster.get(`/api/members/${kim.id}/project_grants`);
      expect(grants.body.total).toBe(3);
      expect(
        grants.body.data.map((g: { project: { id: number }; project_role: { name: string } }) => [
          g.project.id,
          g.project_role.name,
        ]),
      ).toEqual(
        expect.arrayContaining([
          [devProject.id, 'ProjectAdmin'],
          [testProject.id, 'AdvancedBuilder'],
          [prodProject.id, 'ProjectOperator'],
        ]),
      );
    });

    it('gives a collaborator no project grant where they had No access', async () => {
      const grants = await roster.get(`/api/members/${nobody.id}/project_grants`);
      expect(grants.body).toEqual({ data: [], total: 0, page: { number: 1, size: 100 } });
    });

    it('counts the collaborators now holding the new roles', async () => {
      const environmentRoles = await roster.get('/api/environment_roles');
      expect(
        Object.fromEntries(
          environmentRoles.body.data.map((r: { name: string; members_count: number }) => [
            r.name,
            r.members_count,
          ]),
        ),
      ).toEqual({ EnvironmentAdmin: 1, EnvironmentManager: 2, Member: 2 });
      const projectRoles = await roster.get('/api/project_roles');
      expect(
        Object.fromEntries(
          projectRoles.body.data.map((r: { name: string; members_count: number }) => [
            r.name,
            r.members_count,
          ]),
        ),
      ).toEqual({ ProjectAdmin: 1, AdvancedBuilder: 2, ProjectOperator: 2 });
    });

    it('records the migration in the audit log', async () => {
      const res = await roster.get('/api/audit_events?action=roles_migration.system_roles');
      expect(res.status).toBe(200);
      expect(res.body.data).toHaveLength(1);
      expect(res.body.data[0]).toMatchObject({ action: 'roles_migration.system_roles' });
    });

    it('is harmless to run a second time', async () => {
      const before = await snapshot(roster);
      const again = await roster.post('/api/roles_migration/system_roles');
      expect(again.status).toBe(200);
      expect(again.body.data).toEqual({ ...expectedPlan(), collaborators: [], projects: [] });
      const after = await snapshot(roster);
      expect(after.environmentRoles).toEqual(before.environmentRoles);
      expect(after.projectRoles).toEqual(before.projectRoles);
      expect(after.members).toEqual(before.members);
      expect(after.grants).toEqual(before.grants);
    });

    it('migrates a collaborator who joined later with a legacy role on the next run', async () => {
      const late = await createMember(roster, {
        name: 'Late',
        email: 'late@example.com',
        env_roles: [{ environment_type: 'prod', name: 'Admin' }],
      });
      const res = await roster.post('/api/roles_migration/system_roles');
      expect(res.status).toBe(200);
      expect(res.body.data.collaborators).toEqual([
        {
          user_id: late.id,
          email: 'late@example.com',
          name: 'Late',
          roles: [{ environment: 'prod', name: 'EnvironmentAdmin' }],
        },
      ]);
      expect(res.body.data.projects).toEqual([
        {
          id: prodProject.id,
          name: 'Prod Project',
          environment: 'prod',
          collaborators: [
            {
              user_id: late.id,
              email: 'late@example.com',
              name: 'Late',
              project_role: 'ProjectAdmin',
            },
          ],
        },
      ]);
      expect((await roster.get('/api/environment_roles')).body.total).toBe(3);
    });
  });
});

/**
 * A legacy privilege map (as /privileges prints it) split the way the migration converts it,
 * printed back as the privileges endpoints print new-model roles: `{label: [privileges]}`.
 */
function convertedAsPrinted(legacy: Record<string, string[]>): {
  environment: Record<string, string[]>;
  project: Record<string, string[]>;
} {
  const printed = {
    environment: {} as Record<string, string[]>,
    project: {} as Record<string, string[]>,
  };
  for (const [category, names] of Object.entries(legacy)) {
    const mapping = LEGACY_CATEGORY_MAPPING[category];
    if (mapping === undefined || names.length === 0) continue;
    const catalogue = mapping.scope === 'environment' ? ENVIRONMENT_RESOURCES : PROJECT_RESOURCES;
    const definition = catalogue[mapping.resource];
    if (definition === undefined) throw new Error(`no catalogue entry for ${mapping.resource}`);
    const renamed = names.map((name) => mapping.rename?.[name] ?? name);
    printed[mapping.scope][definition.label] = renamed.includes('all')
      ? [...definition.privileges]
      : renamed;
  }
  return printed;
}

/** Project resources no legacy category maps to, printed with all their privileges. */
function projectResourcesWithoutLegacyCategory(): Record<string, string[]> {
  const mapped = new Set(
    Object.values(LEGACY_CATEGORY_MAPPING)
      .filter((m) => m.scope === 'project')
      .map((m) => m.resource),
  );
  return Object.fromEntries(
    Object.entries(PROJECT_RESOURCES)
      .filter(([resource]) => !mapped.has(resource))
      .map(([, definition]) => [definition.label, [...definition.privileges]]),
  );
}

describe("POST /api/roles_migration/system_roles keeps every legacy system role's privileges", () => {
  let roster: Roster;
  let project: { id: number; name: string };
  const people: Record<string, { id: number }> = {};
  const before: Record<string, Record<string, string[]>> = {};
  const legacyRoles = ['Admin', 'Analyst', 'Operator'] as const;

  /** The member's role and privileges in the dev environment, as GET /privileges prints them. */
  async function devPrivileges(memberId: number) {
    const res = await roster.get(`/api/members/${memberId}/privileges`);
    expect(res.status).toBe(200);
    return res.body.data.find((r: { environment_type: string }) => r.environment_type === 'dev');
  }

  /** The member's privileges on the dev project, as GET /projects_privileges prints them. */
  async function projectPrivileges(memberId: number) {
    const res = await roster.get(`/api/members/${memberId}/projects_privileges`);
    expect(res.status).toBe(200);
    const dev = res.body.data.find(
      (entry: { environment: { type: string } }) => entry.environment.type === 'dev',
    );
    return dev?.projects[String(project.id)];
  }

  beforeAll(async () => {
    roster = await startRoster();
    project = await createProject(roster, 'Kept Project', 'dev');
    for (const role of [...legacyRoles, 'No access']) {
      const slug = role.toLowerCase().replace(' ', '-');
      people[role] = await createMember(roster, {
        name: role,
        email: `${slug}@example.com`,
        env_roles: [{ environment_type: 'dev', name: role }],
      });
      before[role] = (await devPrivileges(people[role].id)).privileges;
    }
    const migrated = await roster.post('/api/roles_migration/system_roles');
    expect(migrated.status).toBe(200);
  });
  afterAll(async () => {
    await roster.close();
  });

  it('started every collaborator on their legacy system role with its seeded privileges', () => {
    for (const role of [...legacyRoles, 'No access']) {
      expect(before[role]).toEqual(LEGACY_SYSTEM_ROLES[role]);
    }
  });

  it('gives an Analyst exactly their legacy privileges as EnvironmentManager and AdvancedBuilder', async () => {
    const expected = convertedAsPrinted(before.Analyst ?? {});
    expect(await devPrivileges(people.Analyst!.id)).toEqual({
      environment_type: 'dev',
      name: 'EnvironmentManager',
      role_type: 'environment',
      privileges: expected.environment,
    });
    expect(await projectPrivileges(people.Analyst!.id)).toEqual(expected.project);
  });

  it('gives an Operator exactly their legacy privileges as Member and ProjectOperator', async () => {
    const expected = convertedAsPrinted(before.Operator ?? {});
    expect(await devPrivileges(people.Operator!.id)).toEqual({
      environment_type: 'dev',
      name: 'Member',
      role_type: 'environment',
      privileges: expected.environment,
    });
    expect(await projectPrivileges(people.Operator!.id)).toEqual(expected.project);
  });

  it('gives an Admin their legacy privileges plus project administration, which legacy roles could not name', async () => {
    const expected = convertedAsPrinted(before.Admin ?? {});
    expect(await devPrivileges(people.Admin!.id)).toEqual({
      environment_type: 'dev',
      name: 'EnvironmentAdmin',
      role_type: 'environment',
      privileges: expected.environment,
    });
    expect(projectResourcesWithoutLegacyCategory()).toEqual({
      'Project administration': ['access_control', 'deploy', 'settings'],
    });
    expect(await projectPrivileges(people.Admin!.id)).toEqual({
      ...expected.project,
      ...projectResourcesWithoutLegacyCategory(),
    });
  });

  it('leaves a No access collaborator with no privileges', async () => {
    expect(await devPrivileges(people['No access']!.id)).toEqual({
      environment_type: 'dev',
      name: 'No access',
      role_type: 'privilege_group',
      privileges: {},
    });
    expect(await projectPrivileges(people['No access']!.id)).toBeUndefined();
  });
});

describe('POST /api/roles_migration/custom_role', () => {
  let roster: Roster;
  let legacyRoleId: number;
  let yuri: { id: number; name: string; email: string };
  let devProject: { id: number; name: string };

  const sampleBody = () => ({
    privilege_group_id: legacyRoleId,
    environment_role: {
      name: 'New Environment Role',
      additional_permissions: { manage_projects: { privileges: ['create', 'access_control'] } },
    },
    project_role: {
      name: 'New Project Role',
      additional_permissions: { project_administration: { privileges: ['access_control'] } },
    },
  });

  const expectedPlan = () => ({
    environment_roles: [
      {
        name: 'New Environment Role',
        config: {
          lookup_table: { privileges: ['read'] },
          manage_projects: { privileges: ['create', 'access_control'] },
        },
      },
    ],
    project_roles: [
      {
        name: 'New Project Role',
        config: {
          recipe: { privileges: ['read'] },
          project_administration: { privileges: ['access_control'] },
        },
      },
    ],
    collaborators: [
      {
        user_id: yuri.id,
        email: 'yuri@example.com',
        name: 'Yuri',
        roles: [
          { environment: 'dev', name: 'New Environment Role' },
          { environment: 'test', name: 'New Environment Role' },
          { environment: 'prod', name: 'New Environment Role' },
        ],
      },
    ],
    projects: [
      {
        id: devProject.id,
        name: 'Dev Project',
        environment: 'dev',
        collaborators: [
          {
            user_id: yuri.id,
            email: 'yuri@example.com',
            name: 'Yuri',
            project_role: 'New Project Role',
          },
        ],
      },
    ],
    moderators: [],
  });

  beforeAll(async () => {
    roster = await startRoster();
    const legacy = await roster.post('/api/roles', {
      role: { name: 'Lookup reader', privileges: { 'Lookup tables': ['read'], Recipes: ['read'] } },
    });
    expect(legacy.status).toBe(200);
    legacyRoleId = legacy.body.data.id;
    yuri = await createMember(roster, {
      name: 'Yuri',
      email: 'yuri@example.com',
      env_roles: [
        { environment_type: 'dev', name: 'Lookup reader' },
        { environment_type: 'test', name: 'Lookup reader' },
        { environment_type: 'prod', name: 'Lookup reader' },
      ],
    });
    devProject = await createProject(roster, 'Dev Project', 'dev');
  });
  afterAll(async () => {
    await roster.close();
  });

  it('returns the reference plan without writing anything when dry_run=true is in the query', async () => {
    const before = await snapshot(roster);
    const res = await roster.post('/api/roles_migration/custom_role?dry_run=true', sampleBody());
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: expectedPlan() });
    expect(await snapshot(roster)).toEqual(before);
  });

  it('returns the plan without writing anything when dry_run is true in the body', async () => {
    const before = await snapshot(roster);
    const res = await roster.post('/api/roles_migration/custom_role', {
      ...sampleBody(),
      dry_run: true,
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: expectedPlan() });
    expect(await snapshot(roster)).toEqual(before);
  });

  it('returns 404 for an unknown privilege_group_id', async () => {
    const res = await roster.post('/api/roles_migration/custom_role', {
      ...sampleBody(),
      privilege_group_id: 999999,
    });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ errors: [{ code: 'not_found', title: 'Role 999999 not found' }] });
  });

  it('returns 400 when privilege_group_id is a system role', async () => {
    const roles = await roster.get('/api/roles?name=Analyst');
    const res = await roster.post('/api/roles_migration/custom_role', {
      ...sampleBody(),
      privilege_group_id: roles.body.data[0].id,
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(
      badRequest('Analyst is a system role: migrate it with /api/roles_migration/system_roles'),
    );
  });

  it('returns 400 when environment_role is missing', async () => {
    const res = await roster.post(
      '/api/roles_migration/custom_role',
      without(sampleBody(), 'environment_role'),
    );
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('environment_role is required'));
  });

  it('returns 400 when project_role is missing', async () => {
    const res = await roster.post(
      '/api/roles_migration/custom_role',
      without(sampleBody(), 'project_role'),
    );
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('project_role is required'));
  });

  it('returns 400 when privilege_group_id is missing', async () => {
    const res = await roster.post(
      '/api/roles_migration/custom_role',
      without(sampleBody(), 'privilege_group_id'),
    );
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('privilege_group_id is required'));
  });

  it('returns 400 when a new role name is blank', async () => {
    const body = sampleBody();
    const res = await roster.post('/api/roles_migration/custom_role', {
      ...body,
      project_role: { ...body.project_role, name: '  ' },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest("Name can't be blank"));
  });

  it('returns 400 when additional_permissions name an unknown resource', async () => {
    const body = sampleBody();
    const res = await roster.post('/api/roles_migration/custom_role', {
      ...body,
      environment_role: {
        name: 'Odd env role',
        additional_permissions: { recipe: { privileges: 'all' } },
      },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('Config has an unknown environment resource: recipe'));
  });

  it('returns 400 when an environment role with the new name exists, and writes nothing', async () => {
    const existing = await roster.post('/api/environment_roles', {
      environment_role: { name: 'Taken migration name', config: {} },
    });
    expect(existing.status).toBe(200);
    const before = await snapshot(roster);
    const body = sampleBody();
    const res = await roster.post('/api/roles_migration/custom_role', {
      ...body,
      environment_role: { ...body.environment_role, name: 'taken migration name' },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(
      badRequest('An environment role named taken migration name already exists'),
    );
    expect(await snapshot(roster)).toEqual(before);
    expect((await roster.delete(`/api/environment_roles/${existing.body.data.id}`)).status).toBe(
      204,
    );
  });

  it('returns 400 when a project role with the new name exists', async () => {
    const existing = await roster.post('/api/project_roles', {
      project_role: { name: 'Taken project migration name', config: {} },
    });
    expect(existing.status).toBe(200);
    const body = sampleBody();
    const res = await roster.post('/api/roles_migration/custom_role', {
      ...body,
      project_role: { ...body.project_role, name: 'Taken project migration name' },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(
      badRequest('A project role named Taken project migration name already exists'),
    );
    expect((await roster.delete(`/api/project_roles/${existing.body.data.id}`)).status).toBe(204);
  });

  describe('without dry_run', () => {
    let migrated: { status: number; body: unknown };
    beforeAll(async () => {
      migrated = await roster.post('/api/roles_migration/custom_role', sampleBody());
    });

    it('answers with the plan it applied', () => {
      expect(migrated.status).toBe(200);
      expect(migrated.body).toEqual({ data: expectedPlan() });
    });

    it('creates the environment role and the project role with the converted configs', async () => {
      const environmentRoles = await roster.get(
        '/api/environment_roles?name=New%20Environment%20Role',
      );
      expect(environmentRoles.body.total).toBe(1);
      const environmentRole = await roster.get(
        `/api/environment_roles/${environmentRoles.body.data[0].id}`,
      );
      expect(environmentRole.body.data).toMatchObject({
        name: 'New Environment Role',
        type: 'custom',
        members_count: 1,
        config: {
          lookup_table: { privileges: ['read'] },
          manage_projects: { privileges: ['create', 'access_control'] },
        },
      });
      const projectRoles = await roster.get('/api/project_roles?name=New%20Project%20Role');
      expect(projectRoles.body.total).toBe(1);
      const projectRole = await roster.get(`/api/project_roles/${projectRoles.body.data[0].id}`);
      expect(projectRole.body.data).toMatchObject({
        name: 'New Project Role',
        type: 'custom',
        members_count: 1,
        config: {
          recipe: { privileges: ['read'] },
          project_administration: { privileges: ['access_control'] },
        },
      });
    });

    it('switches the collaborators of the legacy role to the new environment role', async () => {
      const res = await roster.get(`/api/members/${yuri.id}`);
      expect(res.body.data.roles).toEqual([
        { environment_type: 'dev', role_name: 'New Environment Role', role_type: 'environment' },
        { environment_type: 'test', role_name: 'New Environment Role', role_type: 'environment' },
        { environment_type: 'prod', role_name: 'New Environment Role', role_type: 'environment' },
      ]);
      const privileges = await roster.get(`/api/members/${yuri.id}/privileges`);
      expect(privileges.body.data[0]).toEqual({
        environment_type: 'dev',
        name: 'New Environment Role',
        role_type: 'environment',
        privileges: { 'Lookup tables': ['read'], Projects: ['create', 'access_control'] },
      });
    });

    it('grants the new project role on the projects of their environments', async () => {
      const res = await roster.get(`/api/members/${yuri.id}/projects_privileges`);
      expect(res.body.data).toEqual([
        {
          environment: { id: expect.any(Number), type: 'dev' },
          projects: {
            [String(devProject.id)]: {
              Recipes: ['read'],
              'Project administration': ['access_control'],
            },
          },
        },
      ]);
    });

    it('leaves the legacy role without collaborators, so it can be deleted', async () => {
      const legacy = await roster.get(`/api/roles/${legacyRoleId}`);
      expect(legacy.body.data.members_count).toBe(0);
    });

    it('records the migration in the audit log', async () => {
      const res = await roster.get('/api/audit_events?action=roles_migration.custom_role');
      expect(res.body.data).toHaveLength(1);
    });

    it('returns 400 when run again with the same role names', async () => {
      const res = await roster.post('/api/roles_migration/custom_role', sampleBody());
      expect(res.status).toBe(400);
      expect(res.body).toEqual(
        badRequest('An environment role named New Environment Role already exists'),
      );
    });
  });

  it('converts legacy Folders read into the project privilege view', async () => {
    const legacy = await roster.post('/api/roles', {
      role: { name: 'Folder reader', privileges: { Folders: ['read'], Projects: ['read'] } },
    });
    const res = await roster.post('/api/roles_migration/custom_role?dry_run=true', {
      privilege_group_id: legacy.body.data.id,
      environment_role: { name: 'Folder env' },
      project_role: { name: 'Folder project' },
    });
    expect(res.status).toBe(200);
    expect(res.body.data.environment_roles).toEqual([
      { name: 'Folder env', config: { manage_projects: { privileges: ['read'] } } },
    ]);
    expect(res.body.data.project_roles).toEqual([
      { name: 'Folder project', config: { folder: { privileges: ['view'] } } },
    ]);
    expect(res.body.data.collaborators).toEqual([]);
  });

  it('reports a conflicting custom role in a system-roles dry run', async () => {
    const custom = await roster.post('/api/environment_roles', {
      environment_role: { name: 'Member', config: {} },
    });
    expect(custom.status).toBe(200);
    const dry = await roster.post('/api/roles_migration/system_roles?dry_run=true');
    expect(dry.status).toBe(400);
    expect(dry.body).toEqual(badRequest('An environment role named Member already exists'));
    const real = await roster.post('/api/roles_migration/system_roles');
    expect(real.status).toBe(400);
    expect(real.body).toEqual(badRequest('An environment role named Member already exists'));
    expect((await roster.get('/api/environment_roles?name=EnvironmentAdmin')).body.total).toBe(0);
  });
});
