/**
 * GET /api/members/:id/projects_privileges: a collaborator's effective project privileges, the
 * union of their direct grants and their groups' grants, without expired grants or memberships.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_RESOURCES } from '@roster/contracts';
import { createMember, startRoster, type Roster } from '../helpers/roster.js';

let roster: Roster;

interface ProjectInfo {
  id: number;
  environment: { id: number; type: string };
}
interface Person {
  id: number;
  name: string;
  email: string;
}

let folderEditors: string;
let recipeAdmins: string;
let folderDeleters: string;
let allCollaborators: string;

const HOUR = 60 * 60 * 1000;
let emails = 0;

beforeAll(async () => {
  roster = await startRoster();
  folderEditors = await createProjectRole('Folder editors', {
    folder: { privileges: ['create', 'view'] },
  });
  recipeAdmins = await createProjectRole('Recipe admins', { recipe: { privileges: 'all' } });
  folderDeleters = await createProjectRole('Folder deleters', {
    folder: { privileges: ['view', 'delete'] },
    connection: { privileges: ['read'] },
  });
  const groups = await roster.get('/api/user_groups');
  allCollaborators = groups.body.data.find(
    (g: { name: string; system: boolean }) => g.system && g.name === 'All collaborators',
  ).id;
});
afterAll(async () => {
  await roster.close();
});

async function createProjectRole(name: string, config: Record<string, unknown>): Promise<string> {
  const res = await roster.post('/api/project_roles', { project_role: { name, config } });
  expect(res.status).toBe(200);
  return res.body.data.id;
}

async function createGroup(name: string): Promise<string> {
  const res = await roster.post('/api/user_groups', { user_group: { name } });
  expect(res.status).toBe(200);
  return res.body.data.id;
}

async function createProject(name: string, environmentType = 'dev'): Promise<ProjectInfo> {
  const res = await roster.post('/api/projects', { name, environment_type: environmentType });
  expect(res.status).toBe(201);
  return { id: res.body.data.id, environment: res.body.data.environment };
}

/** Holds `No access` in DEV (a legacy role such as `Analyst` covers every DEV project): only grants count. */
async function newMember(): Promise<Person> {
  emails += 1;
  return createMember(roster, {
    email: `person${emails}@example.com`,
    env_roles: [{ environment_type: 'dev', name: 'No access' }],
  });
}

async function grant(
  project: ProjectInfo,
  assignee: { user: Person } | { group: string },
  roleId: string,
  expiresAt?: string,
): Promise<void> {
  const item =
    'user' in assignee
      ? {
          assignment_type: 'User',
          assignment_id: String(assignee.user.id),
          project_role_id: roleId,
        }
      : { assignment_type: 'UserGroup', assignment_id: assignee.group, project_role_id: roleId };
  const res = await roster.put(`/api/projects/${project.id}/project_grants`, {
    project_grants: [expiresAt === undefined ? item : { ...item, expires_at: expiresAt }],
  });
  expect(res.status).toBe(200);
}

async function addToGroup(groupId: string, member: Person, expiresAt?: string) {
  return roster.post(`/api/user_groups/${groupId}/members`, {
    user_ids: [member.id],
    ...(expiresAt === undefined ? {} : { expires_at: expiresAt }),
  });
}

async function privilegesOf(member: Person, token?: string) {
  const res = await roster.get(`/api/members/${member.id}/projects_privileges`, token);
  expect(res.status).toBe(200);
  return res.body;
}

/** The privileges of one project, with each label's list sorted (a union has no meaningful order). */
function sortedProject(
  body: { data: { projects: Record<string, Record<string, string[]>> }[] },
  project: ProjectInfo,
) {
  const entry = body.data.find((e) => String(project.id) in e.projects);
  const privileges = entry?.projects[String(project.id)];
  if (privileges === undefined) return undefined;
  return Object.fromEntries(
    Object.entries(privileges).map(([label, list]) => [label, [...list].sort()]),
  );
}

const inFuture = (ms: number) => new Date(roster.clock.now().getTime() + ms).toISOString();

describe('GET /api/members/:id/projects_privileges', () => {
  it('returns an empty list for a collaborator without project access', async () => {
    const member = await newMember();
    expect(await privilegesOf(member)).toEqual({ data: [] });
  });

  it('shows a direct grant as {environment, projects: {id: {Label: privileges}}}', async () => {
    const member = await newMember();
    const project = await createProject('Direct');
    await grant(project, { user: member }, folderEditors);
    expect(await privilegesOf(member)).toEqual({
      data: [
        {
          environment: project.environment,
          projects: { [String(project.id)]: { Folders: ['create', 'view'] } },
        },
      ],
    });
  });

  it('expands "all" to the full privilege list of the catalogue', async () => {
    const member = await newMember();
    const project = await createProject('All recipes');
    await grant(project, { user: member }, recipeAdmins);
    const body = await privilegesOf(member);
    expect(body.data[0].projects[String(project.id)]).toEqual({
      Recipes: ['read', 'create', 'update', 'delete', 'run', 'read_run_history'],
    });
    expect(body.data[0].projects[String(project.id)].Recipes).toEqual([
      ...(PROJECT_RESOURCES.recipe?.privileges ?? []),
    ]);
  });

  it('groups projects by environment, one entry per environment', async () => {
    const member = await newMember();
    const dev1 = await createProject('Env dev 1', 'dev');
    const dev2 = await createProject('Env dev 2', 'dev');
    const prod = await createProject('Env prod', 'prod');
    await grant(dev1, { user: member }, folderEditors);
    await grant(dev2, { user: member }, recipeAdmins);
    await grant(prod, { user: member }, folderDeleters);
    const body = await privilegesOf(member);
    expect(body).toEqual({
      data: [
        {
          environment: { id: dev1.environment.id, type: 'dev' },
          projects: {
            [String(dev1.id)]: { Folders: ['create', 'view'] },
            [String(dev2.id)]: {
              Recipes: ['read', 'create', 'update', 'delete', 'run', 'read_run_history'],
            },
          },
        },
        {
          environment: { id: prod.environment.id, type: 'prod' },
          projects: { [String(prod.id)]: { Folders: ['view', 'delete'], Connections: ['read'] } },
        },
      ],
    });
  });

  it('is the union of direct grants and the grants of every group of the collaborator', async () => {
    const member = await newMember();
    const groupA = await createGroup('Union A');
    const groupB = await createGroup('Union B');
    expect((await addToGroup(groupA, member)).status).toBe(200);
    expect((await addToGroup(groupB, member)).status).toBe(200);
    const project = await createProject('Union');
    const other = await createProject('Union other');
    await grant(project, { user: member }, folderEditors);
    await grant(project, { group: groupA }, folderDeleters);
    await grant(other, { group: groupB }, recipeAdmins);

    const body = await privilegesOf(member);
    expect(sortedProject(body, project)).toEqual({
      Folders: ['create', 'delete', 'view'],
      Connections: ['read'],
    });
    expect(sortedProject(body, other)).toEqual({
      Recipes: ['create', 'delete', 'read', 'read_run_history', 'run', 'update'],
    });
  });

  it('does not show a group’s grants to collaborators outside the group', async () => {
    const insider = await newMember();
    const outsider = await newMember();
    const group = await createGroup('Insiders');
    expect((await addToGroup(group, insider)).status).toBe(200);
    const project = await createProject('Insiders only');
    await grant(project, { group }, folderEditors);
    expect(sortedProject(await privilegesOf(insider), project)).toEqual({
      Folders: ['create', 'view'],
    });
    expect(await privilegesOf(outsider)).toEqual({ data: [] });
  });

  it('removes the access of a group when the collaborator leaves the group', async () => {
    const member = await newMember();
    const group = await createGroup('Leavers');
    expect((await addToGroup(group, member)).status).toBe(200);
    const project = await createProject('Left behind');
    await grant(project, { group }, folderEditors);
    expect(sortedProject(await privilegesOf(member), project)).toEqual({
      Folders: ['create', 'view'],
    });

    const removal = await roster.delete(
      `/api/user_groups/${group}/members?user_ids[]=${member.id}`,
    );
    expect(removal.status).toBe(204);
    expect(await privilegesOf(member)).toEqual({ data: [] });
  });

  it('counts a group given at invitation', async () => {
    const group = await createGroup('Invited into');
    const project = await createProject('Invited project');
    await grant(project, { group }, folderEditors);
    const member = await createMember(roster, {
      email: 'invited-into@example.com',
      user_group_ids: [group],
      env_roles: [{ environment_type: 'dev', name: 'No access' }],
    });
    expect(sortedProject(await privilegesOf(member), project)).toEqual({
      Folders: ['create', 'view'],
    });
  });

  it('gives a grant to "All collaborators" to every collaborator, including later ones', async () => {
    const earlier = await newMember();
    const project = await createProject('Everyone');
    await grant(project, { group: allCollaborators }, folderDeleters);
    const later = await newMember();
    for (const member of [earlier, later]) {
      expect(sortedProject(await privilegesOf(member), project)).toEqual({
        Folders: ['delete', 'view'],
        Connections: ['read'],
      });
    }
    // Remove it again: it would reach every collaborator of the other tests in this file.
    const list = await roster.get(`/api/projects/${project.id}/project_grants`);
    expect((await roster.delete(`/api/project_grants/${list.body.data[0].id}`)).status).toBe(204);
    expect(await privilegesOf(later)).toEqual({ data: [] });
  });

  it('follows a change of the grant role, and its deletion', async () => {
    const member = await newMember();
    const project = await createProject('Changing');
    await grant(project, { user: member }, folderEditors);
    const list = await roster.get(`/api/members/${member.id}/project_grants`);
    const grantId = list.body.data[0].id;

    const change = await roster.put(`/api/project_grants/${grantId}`, {
      project_grant: { project_role_id: recipeAdmins },
    });
    expect(change.status).toBe(200);
    expect(sortedProject(await privilegesOf(member), project)).toEqual({
      Recipes: ['create', 'delete', 'read', 'read_run_history', 'run', 'update'],
    });

    expect((await roster.delete(`/api/project_grants/${grantId}`)).status).toBe(204);
    expect(await privilegesOf(member)).toEqual({ data: [] });
  });

  it('follows a change of the project role config', async () => {
    const member = await newMember();
    const roleId = await createProjectRole('Editable', { folder: { privileges: ['view'] } });
    const project = await createProject('Role edited');
    await grant(project, { user: member }, roleId);
    const update = await roster.put(`/api/project_roles/${roleId}`, {
      project_role: { name: 'Editable', config: { connection: { privileges: 'all' } } },
    });
    expect(update.status).toBe(200);
    expect(sortedProject(await privilegesOf(member), project)).toEqual({
      Connections: ['create', 'delete', 'read', 'update'],
    });
  });

  it('returns 404 for an unknown collaborator', async () => {
    const res = await roster.get('/api/members/999999/projects_privileges');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ errors: [{ code: 'not_found', title: 'Not found' }] });
  });
});

describe('time-bound access', () => {
  it('stops counting a grant once its expires_at has passed', async () => {
    const member = await newMember();
    const project = await createProject('Temporary grant');
    await grant(project, { user: member }, folderEditors, inFuture(HOUR));
    const permanent = await createProject('Permanent grant');
    await grant(permanent, { user: member }, folderDeleters);
    expect(sortedProject(await privilegesOf(member), project)).toEqual({
      Folders: ['create', 'view'],
    });

    roster.clock.advance(HOUR + 60_000);

    const body = await privilegesOf(member);
    expect(sortedProject(body, project)).toBeUndefined();
    expect(sortedProject(body, permanent)).toEqual({
      Folders: ['delete', 'view'],
      Connections: ['read'],
    });
    const grants = await roster.get(`/api/members/${member.id}/project_grants`);
    const expired = grants.body.data.find(
      (g: { project: { id: number } }) => g.project.id === project.id,
    );
    const read = await roster.get(`/api/project_grants/${expired.id}`);
    expect(read.status).toBe(200);
    expect(read.body.data.expired).toBe(true);
  });

  it('stops counting a group grant once the group’s grant expires', async () => {
    const member = await newMember();
    const group = await createGroup('Temporary group grant');
    expect((await addToGroup(group, member)).status).toBe(200);
    const project = await createProject('Temporary group project');
    await grant(project, { group }, recipeAdmins, inFuture(HOUR));
    expect(sortedProject(await privilegesOf(member), project)).toBeDefined();

    roster.clock.advance(HOUR + 60_000);

    expect(await privilegesOf(member)).toEqual({ data: [] });
  });

  it('stops counting a group membership once its expires_at has passed', async () => {
    const member = await newMember();
    const group = await createGroup('Temporary members');
    const project = await createProject('Through temporary membership');
    await grant(project, { group }, folderEditors);
    const added = await addToGroup(group, member, inFuture(HOUR));
    expect(added.status).toBe(200);
    expect(sortedProject(await privilegesOf(member), project)).toEqual({
      Folders: ['create', 'view'],
    });

    roster.clock.advance(HOUR + 60_000);

    expect(await privilegesOf(member)).toEqual({ data: [] });
  });

  it('keeps direct access when only the group membership expires', async () => {
    const member = await newMember();
    const group = await createGroup('Temporary overlap');
    const project = await createProject('Overlap');
    await grant(project, { group }, folderDeleters);
    await grant(project, { user: member }, folderEditors);
    expect((await addToGroup(group, member, inFuture(HOUR))).status).toBe(200);
    expect(sortedProject(await privilegesOf(member), project)).toEqual({
      Folders: ['create', 'delete', 'view'],
      Connections: ['read'],
    });

    roster.clock.advance(HOUR + 60_000);

    expect(sortedProject(await privilegesOf(member), project)).toEqual({
      Folders: ['create', 'view'],
    });
  });

  it('returns 400 for a group membership that expires in the past', async () => {
    const member = await newMember();
    const group = await createGroup('Past members');
    const res = await addToGroup(
      group,
      member,
      new Date(roster.clock.now().getTime() - HOUR).toISOString(),
    );
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      errors: [{ code: 'bad_request', title: 'expires_at must be in the future' }],
    });
  });

  it('returns 400 for a grant that expires in the past', async () => {
    const member = await newMember();
    const project = await createProject('Past grant');
    const res = await roster.put(`/api/projects/${project.id}/project_grants`, {
      project_grants: [
        {
          assignment_type: 'User',
          assignment_id: String(member.id),
          project_role_id: folderEditors,
          expires_at: new Date(roster.clock.now().getTime() - HOUR).toISOString(),
        },
      ],
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      errors: [{ code: 'bad_request', title: 'expires_at must be in the future' }],
    });
    expect(await privilegesOf(member)).toEqual({ data: [] });
  });
});

describe('API client scope', () => {
  let member: Person;
  let devProject: ProjectInfo;
  let otherDevProject: ProjectInfo;
  let prodProject: ProjectInfo;

  beforeAll(async () => {
    member = await newMember();
    devProject = await createProject('Scope dev', 'dev');
    otherDevProject = await createProject('Scope other dev', 'dev');
    prodProject = await createProject('Scope prod', 'prod');
    await grant(devProject, { user: member }, folderEditors);
    await grant(otherDevProject, { user: member }, folderEditors);
    await grant(prodProject, { user: member }, folderEditors);
  });

  async function clientToken(scope: { environment_types: string[]; project_ids?: number[] }) {
    const res = await roster.post('/api/api_clients', {
      name: `client ${Math.random()}`,
      ...scope,
    });
    expect(res.status).toBe(201);
    return res.body.data.token as string;
  }

  const projectIds = (body: { data: { projects: Record<string, unknown> }[] }) =>
    body.data.flatMap((e) => Object.keys(e.projects)).map(Number);

  it('shows a DEV client only the DEV projects', async () => {
    const token = await clientToken({ environment_types: ['dev'] });
    const body = await privilegesOf(member, token);
    expect(body.data.map((e: { environment: { type: string } }) => e.environment.type)).toEqual([
      'dev',
    ]);
    expect(projectIds(body)).toEqual([devProject.id, otherDevProject.id]);
  });

  it('shows a client assigned to projects only those projects', async () => {
    const token = await clientToken({ environment_types: ['dev'], project_ids: [devProject.id] });
    const body = await privilegesOf(member, token);
    expect(projectIds(body)).toEqual([devProject.id]);
  });

  it('answers 403 to a client without the DEV environment (collaborator endpoints need DEV)', async () => {
    const token = await clientToken({ environment_types: ['prod'] });
    const res = await roster.get(`/api/members/${member.id}/projects_privileges`, token);
    expect(res.status).toBe(403);
    expect(res.body).toEqual({
      errors: [
        { code: 'forbidden', title: 'This API client has no access to the DEV environment' },
      ],
    });
  });

  it('shows the admin every environment', async () => {
    const body = await privilegesOf(member);
    expect(body.data.map((e: { environment: { type: string } }) => e.environment.type)).toEqual([
      'dev',
      'prod',
    ]);
    expect(projectIds(body)).toEqual([devProject.id, otherDevProject.id, prodProject.id]);
  });
});
