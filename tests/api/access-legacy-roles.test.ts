/**
 * Legacy roles (`role_type: privilege_group`) apply to their whole environment: a collaborator
 * holding one has its project privileges on every project of that environment, later ones
 * included, exactly what the migration tool would grant them there (docs/decisions.md). Checks,
 * explain, GET /api/members/:id/projects_privileges and GET /api/access/projects all say so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMember, startRoster, type Roster } from '../helpers/roster.js';

let roster: Roster;
let emails = 0;

beforeAll(async () => {
  roster = await startRoster();
});
afterAll(async () => {
  await roster.close();
});

interface Person {
  id: number;
  email: string;
}

async function collaborator(roles: Record<string, string>): Promise<Person> {
  emails += 1;
  return createMember(roster, {
    email: `legacy${emails}@example.com`,
    env_roles: Object.entries(roles).map(([environment_type, name]) => ({
      environment_type,
      name,
    })),
  });
}

async function project(name: string, environmentType: string): Promise<{ id: number }> {
  const res = await roster.post('/api/projects', { name, environment_type: environmentType });
  expect(res.status).toBe(201);
  return { id: res.body.data.id };
}

async function check(person: Person, projectId: number, resource: string, privilege: string) {
  const res = await roster.post('/api/access/check', {
    subject: { member_id: person.id },
    project_id: projectId,
    resource,
    privilege,
    explain: true,
  });
  expect(res.status).toBe(200);
  return res.body.data as {
    allowed: boolean;
    paths: { outcome: string; via: string; message: string; steps: unknown[] }[];
  };
}

const sorted = (privileges: Record<string, string[]>) =>
  Object.fromEntries(
    Object.entries(privileges)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([label, list]) => [label, [...list].sort()]),
  );

describe('a legacy role covers every project of its environment', () => {
  it('lets the workspace admin (legacy Admin) delete a recipe in a DEV project, and explains it', async () => {
    const admin = await collaborator({ dev: 'Admin' });
    const dev = await project('Legacy dev', 'dev');
    const adminRole = (await roster.get('/api/roles?name=Admin')).body.data[0] as { id: number };

    const answer = await check(admin, dev.id, 'recipe', 'delete');

    expect(answer).toEqual({
      allowed: true,
      paths: [
        {
          outcome: 'grants',
          via: 'legacy_role',
          message: `${admin.email} has the legacy role "Admin" in the DEV environment, which applies to every project of the environment, project "Legacy dev" (${dev.id}) included; the role allows recipe:delete.`,
          steps: [
            { kind: 'member', id: admin.id, name: admin.email },
            { kind: 'environment', id: expect.any(Number), name: 'dev' },
            { kind: 'legacy_role', id: adminRole.id, name: 'Admin' },
            { kind: 'project', id: dev.id, name: 'Legacy dev' },
            { kind: 'privilege', id: null, name: 'recipe:delete' },
          ],
        },
      ],
    });
    // Legacy Admin means everything: project administration too (what ProjectAdmin gives).
    expect((await check(admin, dev.id, 'project_administration', 'deploy')).allowed).toBe(true);
  });

  it('gives nothing in an environment where the role is No access', async () => {
    const admin = await collaborator({ dev: 'Admin' });
    const prod = await project('Legacy prod', 'prod');
    const answer = await check(admin, prod.id, 'recipe', 'read');
    expect(answer.allowed).toBe(false);
    expect(answer.paths).toEqual([
      expect.objectContaining({
        outcome: 'no_access',
        via: 'none',
        message: expect.stringContaining(
          'their legacy role "No access" in the PROD environment allows nothing on projects',
        ),
      }),
    ]);
  });

  it('names the legacy role as the near miss when it lacks the privilege', async () => {
    const operator = await collaborator({ test: 'Operator' });
    const testProject = await project('Legacy operated', 'test');

    expect((await check(operator, testProject.id, 'recipe', 'run')).allowed).toBe(true);
    const denied = await check(operator, testProject.id, 'recipe', 'delete');

    expect(denied.allowed).toBe(false);
    expect(denied.paths).toEqual([
      expect.objectContaining({
        outcome: 'lacks_privilege',
        via: 'legacy_role',
        message: `${operator.email} has the legacy role "Operator" in the TEST environment, which applies to every project of the environment, project "Legacy operated" (${testProject.id}) included, but the role does not allow recipe:delete (on projects it allows Recipes: read, run, read_run_history; Folders: view; Use in recipes: all; Test automation: read).`,
      }),
    ]);
  });

  it('covers a project created after the role was given, at once', async () => {
    const analyst = await collaborator({ dev: 'Analyst' });
    const later = await project('Legacy later', 'dev');
    expect((await check(analyst, later.id, 'connection', 'update')).allowed).toBe(true);
    expect((await check(analyst, later.id, 'project_administration', 'deploy')).allowed).toBe(
      false,
    );
  });

  it('lists the legacy privileges in projects_privileges and /api/access/projects', async () => {
    const operator = await collaborator({ prod: 'Operator' });
    const prod = await project('Legacy listed', 'prod');
    const expected = {
      Recipes: ['read', 'read_run_history', 'run'],
      Folders: ['view'],
      'Test automation': ['read'],
      'Use in recipes': ['all'],
    };

    const listed = await roster.get(`/api/members/${operator.id}/projects_privileges`);
    expect(listed.status).toBe(200);
    const prodEntry = (
      listed.body.data as {
        environment: { type: string };
        projects: Record<string, Record<string, string[]>>;
      }[]
    ).find((e) => e.environment.type === 'prod');
    expect(prodEntry).toBeDefined();
    expect(sorted(prodEntry?.projects[String(prod.id)] ?? {})).toEqual(sorted(expected));
    // Only PROD: the collaborator holds No access in DEV and TEST.
    expect(
      listed.body.data.map((e: { environment: { type: string } }) => e.environment.type),
    ).toEqual(['prod']);

    const access = await roster.get(
      `/api/access/projects?member_id=${operator.id}&environment_type=prod`,
    );
    expect(access.status).toBe(200);
    const row = (
      access.body.data as { project: { id: number }; privileges: Record<string, string[]> }[]
    ).find((r) => r.project.id === prod.id);
    expect(sorted(row?.privileges ?? {})).toEqual(sorted(expected));
  });

  it('gives a custom legacy role its converted project privileges, and follows its changes', async () => {
    const created = await roster.post('/api/roles', {
      role: {
        name: 'Legacy readers',
        privileges: { Recipes: ['read'], 'Lookup tables': ['read'] },
      },
    });
    expect(created.status).toBe(200);
    const reader = await collaborator({ dev: 'Legacy readers' });
    const dev = await project('Legacy custom', 'dev');

    expect((await check(reader, dev.id, 'recipe', 'read')).allowed).toBe(true);
    expect((await check(reader, dev.id, 'folder', 'view')).allowed).toBe(false);

    const updated = await roster.put(`/api/roles/${created.body.data.id}`, {
      role: { name: 'Legacy readers', privileges: { Folders: ['read'] } },
    });
    expect(updated.status).toBe(200);
    expect((await check(reader, dev.id, 'folder', 'view')).allowed).toBe(true);
    expect((await check(reader, dev.id, 'recipe', 'read')).allowed).toBe(false);
  });

  it('stops when the collaborator is moved to No access', async () => {
    const admin = await collaborator({ dev: 'Admin' });
    const dev = await project('Legacy revoked', 'dev');
    expect((await check(admin, dev.id, 'recipe', 'read')).allowed).toBe(true);
    const moved = await roster.put(`/api/members/${admin.id}`, {
      env_roles: [{ environment_type: 'dev', name: 'No access' }],
    });
    expect(moved.status).toBe(200);
    expect((await check(admin, dev.id, 'recipe', 'read')).allowed).toBe(false);
    expect((await roster.get(`/api/members/${admin.id}/projects_privileges`)).body).toEqual({
      data: [],
    });
  });
});

describe('a custom legacy role that selects projects', () => {
  it('applies to the projects it selects only, says so, and keeps them after its migration', async () => {
    const chosen = await project('Selected chosen', 'dev');
    const other = await project('Selected other', 'dev');
    const created = await roster.post('/api/roles', {
      role: {
        name: 'Chosen builders',
        privileges: { Recipes: ['read', 'update'] },
        project_ids: [chosen.id],
      },
    });
    expect(created.status).toBe(200);
    const builder = await collaborator({ dev: 'Chosen builders' });

    const allowed = await check(builder, chosen.id, 'recipe', 'update');
    expect(allowed.allowed).toBe(true);
    expect(allowed.paths[0]?.message).toBe(
      `${builder.email} has the legacy role "Chosen builders" in the DEV environment, which applies to the projects it selects, project "Selected chosen" (${chosen.id}) included; the role allows recipe:update.`,
    );
    const denied = await check(builder, other.id, 'recipe', 'read');
    expect(denied.allowed).toBe(false);
    expect(denied.paths[0]?.message).toContain(
      'their legacy role "Chosen builders" in the DEV environment applies only to the projects it selects, and not to this one',
    );
    const listed = async () =>
      (await roster.get(`/api/members/${builder.id}/projects_privileges`)).body.data as {
        projects: Record<string, Record<string, string[]>>;
      }[];
    const before = await listed();
    expect(before).toEqual([
      expect.objectContaining({
        projects: { [String(chosen.id)]: { Recipes: ['read', 'update'] } },
      }),
    ]);

    // Selecting another project takes effect at the next check.
    const widened = await roster.put(`/api/roles/${created.body.data.id}`, {
      role: {
        name: 'Chosen builders',
        privileges: { Recipes: ['read', 'update'] },
        project_ids: [chosen.id, other.id],
      },
    });
    expect(widened.status).toBe(200);
    expect((await check(builder, other.id, 'recipe', 'read')).allowed).toBe(true);
    const narrowed = await roster.put(`/api/roles/${created.body.data.id}`, {
      role: {
        name: 'Chosen builders',
        privileges: { Recipes: ['read', 'update'] },
        project_ids: [chosen.id],
      },
    });
    expect(narrowed.status).toBe(200);
    expect((await check(builder, other.id, 'recipe', 'read')).allowed).toBe(false);

    // The migration grants the new project role on the selected projects only: nothing changes.
    const migrated = await roster.post('/api/roles_migration/custom_role', {
      privilege_group_id: created.body.data.id,
      environment_role: { name: 'Chosen environment' },
      project_role: { name: 'Chosen project' },
    });
    expect(migrated.status).toBe(200);
    expect(
      (migrated.body.data.projects as { id: number }[])
        .map((p) => p.id)
        .filter((id) => id === chosen.id || id === other.id),
    ).toEqual([chosen.id]);
    expect(await listed()).toEqual(before);
    expect((await check(builder, other.id, 'recipe', 'read')).allowed).toBe(false);
    expect((await check(builder, chosen.id, 'recipe', 'update')).paths[0]?.via).toBe(
      'direct_grant',
    );
  });
});
