/**
 * The SDK's local authorizer follows writes in proportion to the change (GET
 * /api/access/snapshot/changes, applied with the server's reload code): on a workspace of
 * thousands of grants a write is reflected locally without loading the snapshot again, soon after
 * the write's response, with the server's answer; and a change that rebuilds the workspace on the
 * server (a roles migration) makes it load the snapshot again (the fallback).
 */
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalAuthorizer, type LocalAuthorizer } from '../../packages/sdk/src/index.js';
import { ADMIN_TOKEN, createMember, startRoster, type Roster } from '../helpers/roster.js';

const GROUPS = 200;
const PROJECTS = 25;

let server: Roster;
let follower: LocalAuthorizer | undefined;
const local = (): LocalAuthorizer => {
  if (follower === undefined) throw new Error('no local authorizer (the setup failed)');
  return follower;
};
const groups: string[] = [];
const projects: number[] = [];
let role = '';
let member = 0;

/** The last audit event's ID: what the local authorizer must reflect after a write. */
const lastEventId = async () =>
  (await server.get('/api/audit_events?page[size]=1')).body.data[0].id as number;

/** Runs a write, then measures the time from its response to the local authorizer reflecting it. */
async function followed(write: () => Promise<number>): Promise<number> {
  expect(await write()).toBeLessThan(300);
  const answered = performance.now();
  await local().waitFor(await lastEventId(), 10_000);
  return performance.now() - answered;
}

async function agrees(projectId: number): Promise<void> {
  const check = {
    subject: { member_id: member },
    project_id: projectId,
    resource: 'recipe',
    privilege: 'read',
    explain: true,
  };
  const res = await server.post('/api/access/check', check);
  expect(res.status).toBe(200);
  expect(local().check(check)).toEqual(res.body.data);
}

beforeAll(async () => {
  server = await startRoster();
  role = (
    await server.post('/api/project_roles', {
      project_role: { name: 'Reader', config: { recipe: { privileges: ['read'] } } },
    })
  ).body.data.id;
  for (let i = 0; i < GROUPS; i++)
    groups.push(
      (await server.post('/api/user_groups', { user_group: { name: `Team ${i}` } })).body.data.id,
    );
  for (let i = 0; i < PROJECTS; i++) {
    const id = (await server.post('/api/projects', { name: `P${i}`, environment_type: 'dev' })).body
      .data.id as number;
    projects.push(id);
    // At most 100 grants per request.
    for (let at = 0; at < groups.length; at += 100) {
      const res = await server.put(`/api/projects/${id}/project_grants`, {
        project_grants: groups.slice(at, at + 100).map((group) => ({
          assignment_type: 'UserGroup',
          assignment_id: group,
          project_role_id: role,
        })),
      });
      if (res.status !== 200) throw new Error(`grants: ${res.status} ${res.text}`);
    }
  }
  member = (await createMember(server, { email: 'follower@example.com' })).id;
  follower = await createLocalAuthorizer({ baseUrl: server.url, token: ADMIN_TOKEN });
}, 120_000);

afterAll(async () => {
  follower?.close();
  await server.close();
});

describe('the SDK local authorizer on a larger workspace', { timeout: 60_000 }, () => {
  it('reflects each write from its changed rows, soon after the response, without a snapshot', async () => {
    expect(local().stats.reloads).toBe(1);
    await agrees(projects[0] as number);
    const times: number[] = [];
    // Join a group that holds grants on every project, leave it, then a direct grant and its expiry.
    times.push(
      await followed(
        async () =>
          (await server.post(`/api/user_groups/${groups[7]}/members`, { user_ids: [member] }))
            .status,
      ),
    );
    await agrees(projects[3] as number);
    times.push(
      await followed(
        async () =>
          (await server.delete(`/api/user_groups/${groups[7]}/members?user_ids[]=${member}`))
            .status,
      ),
    );
    await agrees(projects[3] as number);
    times.push(
      await followed(
        async () =>
          (
            await server.put(`/api/projects/${projects[5]}/project_grants`, {
              project_grants: [
                { assignment_type: 'User', assignment_id: String(member), project_role_id: role },
              ],
            })
          ).status,
      ),
    );
    await agrees(projects[5] as number);
    expect(
      local().check({
        subject: { member_id: member },
        project_id: projects[5],
        resource: 'recipe',
        privilege: 'read',
      }).allowed,
    ).toBe(true);
    expect(local().stats.fullReloads).toBe(0);
    expect(local().stats.reloads).toBe(1);
    expect(local().stats.deltas).toBeGreaterThanOrEqual(3);
    // Each change is a few rows: well under a second even on a loaded test machine.
    for (const ms of times) expect(ms).toBeLessThan(1_000);
  });

  it('loads the snapshot again for a change that rebuilds the workspace on the server too', async () => {
    const before = local().stats.fullReloads;
    const scim = await server.post('/api/scim_connections', {
      environment_type: 'dev',
      target: 'end_users',
    });
    expect(scim.status).toBe(201);
    // A deleted connection takes its deactivations with it: the server rebuilds the workspace.
    await followed(
      async () =>
        (await server.delete(`/api/scim_connections/${String(scim.body.data.id)}`)).status,
    );
    expect(local().stats.fullReloads).toBe(before + 1);
    await agrees(projects[5] as number);
  });

  it('GET /api/access/snapshot/changes refuses bad input and a partial credential', async () => {
    for (const events of [
      '',
      '0',
      '2147483648',
      '12345678901',
      'abc',
      '1,,2',
      '-1',
      Array.from({ length: 501 }, (_, i) => i + 1).join(','),
    ]) {
      const res = await server.get(`/api/access/snapshot/changes?events=${events}`);
      expect(res.status).toBe(400);
      expect(res.body.errors[0].title).toMatch(/events/);
    }
    expect((await server.get('/api/access/snapshot/changes')).status).toBe(400);
    const limited = await server.post('/api/api_clients', {
      name: 'Dev only',
      environment_types: ['dev'],
    });
    const token = limited.body.data.token as string;
    const last = await lastEventId();
    expect((await server.get(`/api/access/snapshot/changes?events=${last}`, token)).status).toBe(
      403,
    );
    // An ID that names no event (or another workspace's) changes nothing.
    const none = await server.get('/api/access/snapshot/changes?events=999999999,2147483647');
    expect(none.status).toBe(200);
    expect(none.body.data).toMatchObject({ rebuild: false, collaborators: { members: [] } });
  });
});
