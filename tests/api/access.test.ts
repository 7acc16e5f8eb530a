/**
 * The decision API: POST /api/access/check and check_batch, GET /api/access/projects and
 * GET /api/projects/:id/access (JSON and CSV). Answers come from the in-memory index, which a
 * write request refreshes before it answers: every check here follows a write directly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMember, startRoster, type Roster } from '../helpers/roster.js';

let roster: Roster;
let emails = 0;
const HOUR = 60 * 60 * 1000;

interface Person {
  id: number;
  name: string;
  email: string;
}
interface ProjectInfo {
  id: number;
  name: string;
}

beforeAll(async () => {
  roster = await startRoster();
});
afterAll(async () => {
  await roster.close();
});

async function projectRole(
  name: string,
  config: Record<string, unknown>,
): Promise<{ id: string; name: string }> {
  const res = await roster.post('/api/project_roles', { project_role: { name, config } });
  expect(res.status).toBe(200);
  return { id: res.body.data.id, name };
}

async function group(name: string): Promise<{ id: string; name: string }> {
  const res = await roster.post('/api/user_groups', { user_group: { name } });
  expect(res.status).toBe(200);
  return { id: res.body.data.id, name };
}

async function project(name: string, environmentType = 'dev'): Promise<ProjectInfo> {
  const res = await roster.post('/api/projects', { name, environment_type: environmentType });
  expect(res.status).toBe(201);
  return { id: res.body.data.id, name };
}

/**
 * A collaborator holding `role` in DEV. The default, `No access`, gives nothing on projects, so
 * only the grants a test makes count (a legacy role such as `Analyst` covers every DEV project).
 */
async function member(prefix = 'person', role = 'No access'): Promise<Person> {
  emails += 1;
  return createMember(roster, {
    email: `${prefix}${emails}@example.com`,
    env_roles: [{ environment_type: 'dev', name: role }],
  });
}

async function grant(
  target: ProjectInfo,
  assignee: { user: Person } | { group: { id: string } },
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
      : { assignment_type: 'UserGroup', assignment_id: assignee.group.id, project_role_id: roleId };
  const res = await roster.put(`/api/projects/${target.id}/project_grants`, {
    project_grants: [expiresAt === undefined ? item : { ...item, expires_at: expiresAt }],
  });
  expect(res.status).toBe(200);
}

async function join(groupId: string, person: Person, expiresAt?: string): Promise<void> {
  const res = await roster.post(`/api/user_groups/${groupId}/members`, {
    user_ids: [person.id],
    ...(expiresAt === undefined ? {} : { expires_at: expiresAt }),
  });
  expect(res.status).toBeLessThan(300);
}

const inFuture = (ms: number) => new Date(roster.clock.now().getTime() + ms).toISOString();

async function check(body: Record<string, unknown>) {
  return roster.post('/api/access/check', body);
}

describe('POST /api/access/check', () => {
  it('explains, step by step, access a member has only through a group', async () => {
    const builders = await group('Recipe builders');
    const runner = await projectRole('Recipe runners', { recipe: { privileges: ['read', 'run'] } });
    const payments = await project('Payments');
    const alice = await member('alice');
    await join(builders.id, alice);
    await grant(payments, { group: builders }, runner.id);

    const res = await check({
      subject: { member_id: alice.id },
      project_id: payments.id,
      resource: 'recipe',
      privilege: 'run',
      explain: true,
    });

    expect(res.status).toBe(200);
    const grantId = res.body.data.paths[0]?.steps[2]?.id;
    expect(res.body).toEqual({
      data: {
        allowed: true,
        paths: [
          {
            outcome: 'grants',
            via: 'group_grant',
            message: `${alice.email} is a member of group "Recipe builders", which has project role "Recipe runners" on project "Payments" (${payments.id}); the role allows recipe:run.`,
            steps: [
              { kind: 'member', id: alice.id, name: alice.email },
              {
                kind: 'group',
                id: builders.id,
                name: 'Recipe builders',
                expires_at: null,
                expired: false,
              },
              {
                kind: 'project_grant',
                id: grantId,
                name: 'Recipe runners on Payments',
                expires_at: null,
                expired: false,
              },
              { kind: 'project_role', id: runner.id, name: 'Recipe runners' },
              { kind: 'privilege', id: null, name: 'recipe:run' },
            ],
          },
        ],
      },
    });
    expect(grantId).toEqual(expect.any(String));
  });

  it('lists every path that grants the privilege, direct and through groups', async () => {
    const ops = await group('Ops');
    const admin = await projectRole('Billing admins', { recipe: { privileges: 'all' } });
    const billing = await project('Billing');
    const bob = await member('bob');
    await join(ops.id, bob);
    await grant(billing, { group: ops }, admin.id);
    await grant(billing, { user: bob }, admin.id);

    const res = await check({
      subject: { email: bob.email.toUpperCase() },
      project_id: billing.id,
      resource: 'recipe',
      privilege: 'delete',
      explain: true,
    });

    expect(res.status).toBe(200);
    expect(res.body.data.allowed).toBe(true);
    expect(
      res.body.data.paths.map((p: { via: string; outcome: string }) => [p.via, p.outcome]),
    ).toEqual([
      ['group_grant', 'grants'],
      ['direct_grant', 'grants'],
    ]);
    expect(res.body.data.paths[1].message).toBe(
      `${bob.email} has project role "Billing admins" on project "Billing" (${billing.id}) through a direct grant; the role allows recipe:delete.`,
    );
  });

  it('answers without paths when explain is not asked for', async () => {
    const viewer = await projectRole('Quiet viewers', { folder: { privileges: ['view'] } });
    const quiet = await project('Quiet');
    const carol = await member();
    await grant(quiet, { user: carol }, viewer.id);

    const yes = await check({
      subject: { member_id: carol.id },
      project_id: quiet.id,
      resource: 'folder',
      privilege: 'view',
    });
    const no = await check({
      subject: { member_id: carol.id },
      project_id: quiet.id,
      resource: 'folder',
      privilege: 'delete',
    });

    expect(yes.status).toBe(200);
    expect(yes.body).toEqual({ data: { allowed: true, paths: [] } });
    expect(no.status).toBe(200);
    expect(no.body).toEqual({ data: { allowed: false, paths: [] } });
  });

  it('gives the nearest miss when denied: the member reaches the project through a role without the privilege', async () => {
    const readers = await group('Readers');
    const reader = await projectRole('Recipe readers', {
      recipe: { privileges: ['read'] },
      folder: { privileges: ['view'] },
    });
    const ledger = await project('Ledger');
    const dan = await member();
    await join(readers.id, dan);
    await grant(ledger, { group: readers }, reader.id);

    const res = await check({
      subject: { member_id: dan.id },
      project_id: ledger.id,
      resource: 'recipe',
      privilege: 'run',
      explain: true,
    });

    expect(res.status).toBe(200);
    expect(res.body.data.allowed).toBe(false);
    expect(res.body.data.paths).toHaveLength(1);
    expect(res.body.data.paths[0]).toMatchObject({
      outcome: 'lacks_privilege',
      via: 'group_grant',
      message: `${dan.email} is a member of group "Readers", which has project role "Recipe readers" on project "Ledger" (${ledger.id}), but the role does not allow recipe:run (it allows Recipes: read; Folders: view).`,
    });
  });

  it('names an expired grant as the nearest miss, ahead of a role that lacks the privilege', async () => {
    const runner = await projectRole('Temporary runners', { recipe: { privileges: ['run'] } });
    const viewer = await projectRole('Plain viewers', { folder: { privileges: ['view'] } });
    const audit = await project('Audit');
    const erin = await member();
    const expiresAt = inFuture(HOUR);
    await grant(audit, { user: erin }, viewer.id);
    await grant(audit, { user: erin }, runner.id, expiresAt);
    roster.clock.advance(2 * HOUR);

    const res = await check({
      subject: { member_id: erin.id },
      project_id: audit.id,
      resource: 'recipe',
      privilege: 'run',
      explain: true,
    });

    expect(res.status).toBe(200);
    expect(res.body.data.allowed).toBe(false);
    expect(res.body.data.paths.map((p: { outcome: string }) => p.outcome)).toEqual([
      'expired',
      'lacks_privilege',
    ]);
    expect(res.body.data.paths[0].message).toBe(
      `${erin.email} has project role "Temporary runners" on project "Audit" (${audit.id}) through a direct grant; the role would allow recipe:run, but the grant expired at ${expiresAt}.`,
    );
    expect(res.body.data.paths[0].steps[1]).toEqual({
      kind: 'project_grant',
      id: expect.any(String),
      name: 'Temporary runners on Audit',
      expires_at: expiresAt,
      expired: true,
    });
  });

  it('names an expired group membership as the nearest miss', async () => {
    const contractors = await group('Contractors');
    const runner = await projectRole('Contract runners', { recipe: { privileges: ['run'] } });
    const vendor = await project('Vendor');
    const fay = await member();
    const expiresAt = inFuture(HOUR);
    await join(contractors.id, fay, expiresAt);
    await grant(vendor, { group: contractors }, runner.id);
    roster.clock.advance(2 * HOUR);

    const res = await check({
      subject: { member_id: fay.id },
      project_id: vendor.id,
      resource: 'recipe',
      privilege: 'run',
      explain: true,
    });

    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({
      allowed: false,
      paths: [
        expect.objectContaining({
          outcome: 'expired',
          via: 'group_grant',
          message: `${fay.email} is a member of group "Contractors", which has project role "Contract runners" on project "Vendor" (${vendor.id}); the role would allow recipe:run, but the membership of group "Contractors" expired at ${expiresAt}.`,
        }),
      ],
    });
    expect(res.body.data.paths[0].steps[1]).toEqual({
      kind: 'group',
      id: contractors.id,
      name: 'Contractors',
      expires_at: expiresAt,
      expired: true,
    });
  });

  it('says no grant reaches the member when nothing does', async () => {
    const island = await project('Island');
    const gus = await member();

    const res = await check({
      subject: { member_id: gus.id },
      project_id: island.id,
      resource: 'recipe',
      privilege: 'read',
      explain: true,
    });

    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: {
        allowed: false,
        paths: [
          {
            outcome: 'no_access',
            via: 'none',
            message: `No project grant on project "Island" (${island.id}) reaches ${gus.email}: none to them directly, and none to their one group, "All collaborators", which every collaborator is in; their legacy role "No access" in the DEV environment allows nothing on projects.`,
            steps: [
              { kind: 'member', id: gus.id, name: gus.email },
              { kind: 'project', id: island.id, name: 'Island' },
            ],
          },
        ],
      },
    });
  });

  it('counts "All collaborators" among the groups a denied member is in', async () => {
    const atoll = await project('Atoll');
    const ivy = await member();
    const readers = await group('Atoll outsiders');
    await join(readers.id, ivy);

    const res = await check({
      subject: { member_id: ivy.id },
      project_id: atoll.id,
      resource: 'recipe',
      privilege: 'read',
      explain: true,
    });

    expect(res.status).toBe(200);
    expect(res.body.data.paths).toEqual([
      expect.objectContaining({
        outcome: 'no_access',
        message: `No project grant on project "Atoll" (${atoll.id}) reaches ${ivy.email}: none to them directly, and none to any of their 2 groups ("All collaborators", which every collaborator is in, included); their legacy role "No access" in the DEV environment allows nothing on projects.`,
      }),
    ]);
  });

  it('stops counting a grant at the instant it expires, with no job in between', async () => {
    const runner = await projectRole('Hour runners', { recipe: { privileges: ['run'] } });
    const sprint = await project('Sprint');
    const hal = await member();
    const expiresAt = inFuture(HOUR);
    await grant(sprint, { user: hal }, runner.id, expiresAt);
    const ask = () =>
      check({
        subject: { member_id: hal.id },
        project_id: sprint.id,
        resource: 'recipe',
        privilege: 'run',
      });

    roster.clock.advance(HOUR - 10_000);
    const before = await ask();
    roster.clock.advance(10_000);
    const after = await ask();

    expect(before.status).toBe(200);
    expect(before.body).toEqual({ data: { allowed: true, paths: [] } });
    expect(after.status).toBe(200);
    expect(after.body).toEqual({ data: { allowed: false, paths: [] } });
  });

  it('sees a write made just before it: removing the member from the group removes the access', async () => {
    const squad = await group('Squad');
    const runner = await projectRole('Squad runners', { recipe: { privileges: ['run'] } });
    const target = await project('Squad project');
    const ivy = await member();
    await join(squad.id, ivy);
    await grant(target, { group: squad }, runner.id);
    const ask = () =>
      check({
        subject: { member_id: ivy.id },
        project_id: target.id,
        resource: 'recipe',
        privilege: 'run',
      });
    const granted = await ask();

    const removed = await roster.delete(
      `/api/user_groups/${squad.id}/members?user_ids[]=${ivy.id}`,
    );
    const afterRemoval = await ask();

    expect(granted.body).toEqual({ data: { allowed: true, paths: [] } });
    expect(removed.status).toBe(204);
    expect(afterRemoval.body).toEqual({ data: { allowed: false, paths: [] } });
  });

  it('follows a change of the project role config', async () => {
    const role = await projectRole('Changing role', { recipe: { privileges: ['read'] } });
    const target = await project('Changing');
    const jo = await member();
    await grant(target, { user: jo }, role.id);
    const ask = () =>
      check({
        subject: { member_id: jo.id },
        project_id: target.id,
        resource: 'recipe',
        privilege: 'run',
      });
    const before = await ask();

    const updated = await roster.put(`/api/project_roles/${role.id}`, {
      project_role: { name: 'Changing role', config: { recipe: { privileges: ['read', 'run'] } } },
    });
    const after = await ask();

    expect(before.body.data.allowed).toBe(false);
    expect(updated.status).toBe(200);
    expect(after.body.data.allowed).toBe(true);
  });

  it('checks environment privileges against the legacy role when no project is given', async () => {
    const kim = await member('person', 'Analyst');

    const allowed = await check({
      subject: { member_id: kim.id },
      environment_type: 'dev',
      resource: 'folder',
      privilege: 'view',
      explain: true,
    });
    const denied = await check({
      subject: { member_id: kim.id },
      environment_type: 'dev',
      resource: 'team',
      privilege: 'invite',
      explain: true,
    });
    const elsewhere = await check({
      subject: { member_id: kim.id },
      environment_type: 'prod',
      resource: 'folder',
      privilege: 'view',
      explain: true,
    });

    expect(allowed.status).toBe(200);
    expect(allowed.body.data.allowed).toBe(true);
    expect(allowed.body.data.paths[0]).toMatchObject({
      outcome: 'grants',
      via: 'legacy_role',
      message: `${kim.email} has the legacy role "Analyst" in the DEV environment, which allows folder:view.`,
    });
    expect(denied.status).toBe(200);
    expect(denied.body.data.allowed).toBe(false);
    expect(denied.body.data.paths[0]).toMatchObject({
      outcome: 'lacks_privilege',
      via: 'legacy_role',
    });
    expect(elsewhere.status).toBe(200);
    expect(elsewhere.body.data).toEqual({
      allowed: false,
      paths: [
        {
          outcome: 'lacks_privilege',
          via: 'legacy_role',
          message: `${kim.email} has the legacy role "No access" in the PROD environment, which does not allow folder:view (it allows nothing).`,
          steps: [
            { kind: 'member', id: kim.id, name: kim.email },
            { kind: 'environment', id: expect.any(Number), name: 'prod' },
            { kind: 'legacy_role', id: expect.any(Number), name: 'No access' },
            { kind: 'privilege', id: null, name: 'folder:view' },
          ],
        },
      ],
    });
  });

  it('returns 400 when the subject is missing', async () => {
    const res = await check({
      subject: {},
      environment_type: 'dev',
      resource: 'team',
      privilege: 'read',
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      errors: [{ code: 'bad_request', title: 'Give subject.member_id or subject.email' }],
    });
  });

  it('returns 400 when neither a project nor an environment is given', async () => {
    const lee = await member();
    const res = await check({
      subject: { member_id: lee.id },
      resource: 'team',
      privilege: 'read',
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      errors: [
        {
          code: 'bad_request',
          title: 'Give project_id, or environment_type for an environment-level check',
        },
      ],
    });
  });

  it('returns 404 for an unknown member and an unknown project', async () => {
    const mo = await member();
    const unknownMember = await check({
      subject: { member_id: 999999 },
      environment_type: 'dev',
      resource: 'team',
      privilege: 'read',
    });
    const unknownProject = await check({
      subject: { member_id: mo.id },
      project_id: 999999,
      resource: 'recipe',
      privilege: 'read',
    });
    expect(unknownMember.status).toBe(404);
    expect(unknownMember.body).toEqual({
      errors: [{ code: 'not_found', title: 'Member not found' }],
    });
    expect(unknownProject.status).toBe(404);
    expect(unknownProject.body).toEqual({
      errors: [{ code: 'not_found', title: 'Project not found' }],
    });
  });

  it('returns 403 to an API client whose scope leaves out the project', async () => {
    const hidden = await project('Hidden', 'prod');
    const ned = await member();
    const client = await roster.post('/api/api_clients', {
      name: 'Dev only',
      environment_types: ['dev'],
    });
    expect(client.status).toBe(201);

    const res = await roster.post(
      '/api/access/check',
      {
        subject: { member_id: ned.id },
        project_id: hidden.id,
        resource: 'recipe',
        privilege: 'read',
      },
      client.body.data.token,
    );

    expect(res.status).toBe(403);
    expect(res.body).toEqual({
      errors: [
        { code: 'forbidden', title: 'This API client has no access to the PROD environment' },
      ],
    });
  });
});

describe('POST /api/access/check_batch', () => {
  it('answers each check in order, with an error in place of a check that cannot be answered', async () => {
    const role = await projectRole('Batch role', { connection: { privileges: ['read'] } });
    const target = await project('Batch');
    const olga = await member();
    await grant(target, { user: olga }, role.id);

    const res = await roster.post('/api/access/check_batch', {
      checks: [
        {
          subject: { member_id: olga.id },
          project_id: target.id,
          resource: 'connection',
          privilege: 'read',
        },
        {
          subject: { member_id: olga.id },
          project_id: target.id,
          resource: 'connection',
          privilege: 'delete',
        },
        {
          subject: { member_id: 999999 },
          project_id: target.id,
          resource: 'connection',
          privilege: 'read',
        },
      ],
    });

    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: [
        { allowed: true, paths: [] },
        { allowed: false, paths: [] },
        { allowed: false, paths: [], error: { code: 'not_found', title: 'Member not found' } },
      ],
    });
  });

  it('takes 1,000 checks', async () => {
    const pat = await member('person', 'Analyst');
    const checks = Array.from({ length: 1000 }, () => ({
      subject: { member_id: pat.id },
      environment_type: 'dev',
      resource: 'recipe',
      privilege: 'run',
    }));
    const res = await roster.post('/api/access/check_batch', { checks });
    expect(res.status).toBe(200);
    expect(res.body.data).toHaveLength(1000);
    expect(res.body.data.every((d: { allowed: boolean }) => d.allowed)).toBe(true);
  });

  it('returns 400 for more than 1,000 checks', async () => {
    const checks = Array.from({ length: 1001 }, () => ({
      subject: { member_id: 1 },
      environment_type: 'dev',
      resource: 'recipe',
      privilege: 'run',
    }));
    const res = await roster.post('/api/access/check_batch', { checks });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      errors: [
        { code: 'bad_request', title: 'A batch takes at most 1000 checks; this one has 1001' },
      ],
    });
  });
});

describe('GET /api/access/projects', () => {
  it('lists what a member can do, project by project, and through what', async () => {
    const team = await group('Listing team');
    const reader = await projectRole('Listing readers', { recipe: { privileges: ['read'] } });
    const runner = await projectRole('Listing runners', { recipe: { privileges: ['run'] } });
    const first = await project('Listing one');
    const second = await project('Listing two', 'test');
    const expiredProject = await project('Listing expired');
    const quinn = await member();
    await join(team.id, quinn);
    await grant(first, { group: team }, reader.id);
    await grant(first, { user: quinn }, runner.id);
    await grant(second, { user: quinn }, reader.id);
    await grant(expiredProject, { user: quinn }, reader.id, inFuture(1000));
    roster.clock.advance(2000);

    const res = await roster.get(`/api/access/projects?member_id=${quinn.id}`);

    expect(res.status).toBe(200);
    expect(res.body.total).toBe(2);
    expect(res.body.page).toEqual({ number: 1, size: 100 });
    expect(res.body.data.map((e: { project: { id: number } }) => e.project.id)).toEqual([
      first.id,
      second.id,
    ]);
    const [one, two] = res.body.data;
    expect(one.project).toEqual({
      id: first.id,
      name: 'Listing one',
      environment: { id: expect.any(Number), type: 'dev' },
    });
    expect(one.privileges).toEqual({ Recipes: ['read', 'run'] });
    expect(one.paths).toEqual([
      {
        via: 'group_grant',
        project_grant: { id: expect.any(String), expires_at: null, expired: false },
        project_role: { id: reader.id, name: 'Listing readers' },
        user_group: {
          id: team.id,
          name: 'Listing team',
          system: false,
          membership_expires_at: null,
          membership_expired: false,
        },
        expired: false,
      },
      {
        via: 'direct_grant',
        project_grant: { id: expect.any(String), expires_at: null, expired: false },
        project_role: { id: runner.id, name: 'Listing runners' },
        user_group: null,
        expired: false,
      },
    ]);
    expect(two.project.environment.type).toBe('test');

    const page = await roster.get(
      `/api/access/projects?member_id=${quinn.id}&page[size]=1&page[number]=2`,
    );
    expect(page.status).toBe(200);
    expect(page.body.total).toBe(2);
    expect(page.body.data.map((e: { project: { id: number } }) => e.project.id)).toEqual([
      second.id,
    ]);
  });

  it('returns 404 for an unknown member', async () => {
    const res = await roster.get('/api/access/projects?member_id=999999');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ errors: [{ code: 'not_found', title: 'Member not found' }] });
  });
});

describe('GET /api/projects/:id/access', () => {
  let review: ProjectInfo;
  let rita: Person;
  let sam: Person;
  let reviewers: { id: string; name: string };
  let editor: { id: string; name: string };

  beforeAll(async () => {
    reviewers = await group('Reviewers');
    editor = await projectRole('Review editors', { folder: { privileges: ['view', 'update'] } });
    review = await project('Review');
    rita = await member('rita');
    sam = await member('sam');
    await join(reviewers.id, rita);
    await join(reviewers.id, sam, inFuture(1000));
    await grant(review, { group: reviewers }, editor.id);
    roster.clock.advance(2000);
  });

  it('lists who can do what and through what, showing an expired membership as expired', async () => {
    const res = await roster.get(`/api/projects/${review.id}/access`);

    expect(res.status).toBe(200);
    expect(res.body.total).toBe(2);
    const path = (membershipExpiresAt: string | null, expired: boolean) => ({
      via: 'group_grant',
      project_grant: { id: expect.any(String), expires_at: null, expired: false },
      project_role: { id: editor.id, name: 'Review editors' },
      user_group: {
        id: reviewers.id,
        name: 'Reviewers',
        system: false,
        membership_expires_at: membershipExpiresAt,
        membership_expired: expired,
      },
      expired,
    });
    expect(res.body.data).toEqual([
      {
        member: { id: rita.id, name: rita.name, email: rita.email },
        privileges: { Folders: ['view', 'update'] },
        paths: [path(null, false)],
      },
      {
        member: { id: sam.id, name: sam.name, email: sam.email },
        privileges: {},
        paths: [path(expect.any(String), true)],
      },
    ]);
  });

  it('exports the review as CSV with ?format=csv and with Accept: text/csv', async () => {
    const byQuery = await roster.get(`/api/projects/${review.id}/access?format=csv`);
    const byHeader = await roster.request('GET', `/api/projects/${review.id}/access`, {
      headers: { accept: 'text/csv' },
    });

    expect(byQuery.status).toBe(200);
    expect(byQuery.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    const lines = byQuery.text.trimEnd().split('\r\n');
    expect(lines[0]).toBe(
      'member_id,member_name,member_email,via,user_group_id,user_group_name,project_role_id,project_role_name,project_grant_id,grant_expires_at,membership_expires_at,expired,privileges_now',
    );
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(
      new RegExp(
        `^${rita.id},${rita.name},${rita.email},group_grant,${reviewers.id},Reviewers,${editor.id},Review editors,[^,]+,,,false,Folders: view update$`,
      ),
    );
    expect(lines[2]).toMatch(
      new RegExp(
        `^${sam.id},${sam.name},${sam.email},group_grant,${reviewers.id},Reviewers,${editor.id},Review editors,[^,]+,,[0-9T:.Z-]+,true,$`,
      ),
    );
    expect(byHeader.status).toBe(200);
    expect(byHeader.text).toBe(byQuery.text);
  });

  it('returns 404 for an unknown project', async () => {
    const res = await roster.get('/api/projects/999999/access');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ errors: [{ code: 'not_found', title: 'Project not found' }] });
  });
});
