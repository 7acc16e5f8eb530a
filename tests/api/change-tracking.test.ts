/**
 * Read-your-writes through each way a write's change reaches the request that made it
 * (lib/change-tracking.ts): the request's context (recordChange: group membership, grants) and a
 * parameter (an invitation accepted, SCIM). Each write is answered only once the
 * access index has it, so a check sent the moment the answer arrives sees it, many at a time and
 * interleaved with each other. The change feed's poll is off, so nothing else brings the index up
 * to date in time; on PostgreSQL its NOTIFY still could, which is why SQLite is the strict run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMember, invitationTokenFor, startRoster, type Roster } from '../helpers/roster.js';
import { createConnection, scimClient, type ScimClient } from '../scim/helpers.js';

const ROUNDS = 12;

let roster: Roster;
let scim: ScimClient;
let roleId: string;
let projectId: number;

beforeAll(async () => {
  roster = await startRoster({ env: { ROSTER_CHANGE_POLL_MS: '0' } });
  roleId = (
    await roster.post('/api/project_roles', {
      project_role: { name: 'Trackers', config: { recipe: { privileges: ['run'] } } },
    })
  ).body.data.id;
  projectId = (await roster.post('/api/projects', { name: 'Tracked', environment_type: 'dev' }))
    .body.data.id;
  scim = scimClient(roster, await createConnection(roster, 'dev', 'collaborators'));
}, 60_000);
afterAll(async () => {
  await roster.close();
});

async function canRun(memberId: number): Promise<boolean> {
  const res = await roster.post('/api/access/check', {
    subject: { member_id: memberId },
    project_id: projectId,
    resource: 'recipe',
    privilege: 'run',
  });
  expect(res.status).toBe(200);
  return res.body.data.allowed as boolean;
}

async function canViewFolders(memberId: number): Promise<boolean> {
  const res = await roster.post('/api/access/check', {
    subject: { member_id: memberId },
    environment_type: 'dev',
    resource: 'folder',
    privilege: 'view',
  });
  expect(res.status).toBe(200);
  return res.body.data.allowed as boolean;
}

async function groupWithGrant(name: string): Promise<string> {
  const group = (await roster.post('/api/user_groups', { user_group: { name } })).body.data.id;
  const granted = await roster.put(`/api/projects/${projectId}/project_grants`, {
    project_grants: [
      { assignment_type: 'UserGroup', assignment_id: group, project_role_id: roleId },
    ],
  });
  expect(granted.status).toBe(200);
  return group;
}

function noAccess(email: string) {
  return createMember(roster, {
    email,
    env_roles: [{ environment_type: 'dev', name: 'No access' }],
  });
}

describe('a write answers once the access index has it', () => {
  it('through the request context: group membership added and removed, concurrently', async () => {
    const group = await groupWithGrant('Tracked by context');
    const members = await Promise.all(
      Array.from({ length: ROUNDS }, (_, i) => noAccess(`context${i}@track.example.com`)),
    );
    const seen = await Promise.all(
      members.map(async (member) => {
        const added = await roster.post(`/api/user_groups/${group}/members`, {
          user_ids: [member.id],
        });
        expect(added.status).toBeLessThan(300);
        const afterAdd = await canRun(member.id);
        const removed = await roster.delete(
          `/api/user_groups/${group}/members?user_ids[]=${member.id}`,
        );
        expect(removed.status).toBeLessThan(300);
        return [afterAdd, await canRun(member.id)];
      }),
    );
    expect(seen).toEqual(members.map(() => [true, false]));
  });

  it('through a parameter: invitations accepted into a group holding a grant, concurrently', async () => {
    const group = await groupWithGrant('Tracked by invitation');
    const emails = Array.from({ length: ROUNDS }, (_, i) => `invited${i}@track.example.com`);
    for (const email of emails) {
      const invited = await roster.post('/api/member_invitations', {
        name: email.split('@')[0],
        email,
        env_roles: [{ environment_type: 'dev', name: 'No access' }],
        user_group_ids: [group],
      });
      expect(invited.status).toBe(200);
    }
    const tokens = await Promise.all(emails.map((email) => invitationTokenFor(roster, email)));
    const seen = await Promise.all(
      tokens.map(async (token) => {
        const accepted = await roster.post(`/invitations/${token}/accept`, {}, null);
        expect(accepted.status).toBe(201);
        return canRun(accepted.body.data.id as number);
      }),
    );
    expect(seen).toEqual(tokens.map(() => true));
  });

  it('through a parameter: SCIM users provisioned and deactivated, concurrently, among other writes', async () => {
    const group = await groupWithGrant('Tracked alongside SCIM');
    const others = await Promise.all(
      Array.from({ length: ROUNDS }, (_, i) => noAccess(`alongside${i}@track.example.com`)),
    );
    const seen = await Promise.all(
      others.map(async (other, i) => {
        const [created] = await Promise.all([
          scim.request('POST', '/Users', { userName: `scim${i}@track.example.com` }),
          roster.post(`/api/user_groups/${group}/members`, { user_ids: [other.id] }),
        ]);
        expect(created.status).toBe(201);
        // A SCIM collaborator's id is the collaborator's.
        const memberId = Number(created.body.id);
        const afterCreate = await canViewFolders(memberId);
        const deactivated = await scim.request('PATCH', `/Users/${created.body.id as string}`, {
          schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
          Operations: [{ op: 'replace', path: 'active', value: false }],
        });
        expect(deactivated.status).toBe(204);
        return [afterCreate, await canViewFolders(memberId), await canRun(other.id)];
      }),
    );
    expect(seen).toEqual(others.map(() => [true, false, true]));
  });
});
