/**
 * Writes that validate their references in the write itself (a grant's role and grantee, a
 * group's new collaborators: docs/performance.md, "Eighth round"): the first fault is still the
 * one the API names, nothing of a rejected batch is kept, and a collaborator deleted by another
 * transaction while the write waits for it is a 400, not a 500 (PostgreSQL: the second
 * transaction holds the row until the request is blocked on it).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDialect } from '../helpers/database.js';
import { createMember, startRoster, type Roster } from '../helpers/roster.js';

let roster: Roster;
let role: string;
let project: number;
let group: string;
let alice: { id: number };

beforeAll(async () => {
  roster = await startRoster();
  role = (
    await roster.post('/api/project_roles', {
      project_role: { name: 'Runner', config: { recipe: { privileges: ['run'] } } },
    })
  ).body.data.id;
  project = (await roster.post('/api/projects', { name: 'P', environment_type: 'dev' })).body.data
    .id;
  group = (await roster.post('/api/user_groups', { user_group: { name: 'Team' } })).body.data.id;
  alice = await createMember(roster, { email: 'alice@example.com' });
});
afterAll(async () => {
  await roster.close();
});

const badRequest = (title: string) => ({ errors: [{ code: 'bad_request', title }] });
const pastDate = () => new Date(roster.clock.now().getTime() - 60_000).toISOString();
const grantsOfProject = async () =>
  (await roster.get(`/api/projects/${project}/project_grants?page[size]=100`)).body.data;

describe('project grants validated by their write', () => {
  it('names the unknown role before a past expiry of the same grant', async () => {
    const res = await roster.put(`/api/projects/${project}/project_grants`, {
      project_grants: [
        {
          assignment_type: 'User',
          assignment_id: alice.id,
          project_role_id: 'pr-unknown-0000000',
          expires_at: pastDate(),
        },
      ],
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('Project role pr-unknown-0000000 not found'));
  });

  it('names the unknown user before a past expiry, and the expiry when both exist', async () => {
    const unknown = await roster.put(`/api/projects/${project}/project_grants`, {
      project_grants: [
        {
          assignment_type: 'User',
          assignment_id: 999999,
          project_role_id: role,
          expires_at: pastDate(),
        },
      ],
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toEqual(badRequest('User 999999 not found'));
    const past = await roster.put(`/api/projects/${project}/project_grants`, {
      project_grants: [
        {
          assignment_type: 'User',
          assignment_id: alice.id,
          project_role_id: role,
          expires_at: pastDate(),
        },
      ],
    });
    expect(past.status).toBe(400);
    expect(past.body).toEqual(badRequest('expires_at must be in the future'));
  });

  it('keeps none of a batch whose second grant names an unknown group', async () => {
    const res = await roster.put(`/api/projects/${project}/project_grants`, {
      project_grants: [
        { assignment_type: 'User', assignment_id: alice.id, project_role_id: role },
        {
          assignment_type: 'UserGroup',
          assignment_id: 'am-unknown-0000000',
          project_role_id: role,
        },
      ],
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('User group am-unknown-0000000 not found'));
    expect(await grantsOfProject()).toEqual([]);
    // The audit log has no event of the rejected request.
    const audit = await roster.get('/api/audit_events?page[size]=100');
    expect(
      audit.body.data.filter((e: { action: string }) => e.action === 'project_grants.upserted'),
    ).toEqual([]);
  });

  it('refreshes an existing grant through the guarded write (one grant, same ID)', async () => {
    const body = {
      project_grants: [
        { assignment_type: 'UserGroup', assignment_id: group, project_role_id: role },
      ],
    };
    expect((await roster.put(`/api/projects/${project}/project_grants`, body)).status).toBe(200);
    const first = await grantsOfProject();
    expect((await roster.put(`/api/projects/${project}/project_grants`, body)).status).toBe(200);
    expect(await grantsOfProject()).toEqual(first);
    expect(first).toHaveLength(1);
  });
});

describe('group members validated by their write', () => {
  it('adds none of a list with an unknown collaborator, naming only the unknown', async () => {
    const res = await roster.post(`/api/user_groups/${group}/members`, {
      user_ids: [alice.id, 999998, 999999],
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('Users not found: 999998, 999999'));
    const members = await roster.get(`/api/user_groups/${group}/members`);
    expect(members.body.data).toEqual([]);
  });

  it('adds a collaborator, and again (renewed, not duplicated)', async () => {
    for (let i = 0; i < 2; i++) {
      const res = await roster.post(`/api/user_groups/${group}/members`, { user_ids: [alice.id] });
      expect(res.status).toBe(200);
    }
    const members = await roster.get(`/api/user_groups/${group}/members`);
    expect(members.body.data.map((m: { user_id: number }) => m.user_id)).toEqual([alice.id]);
  });
});

describe.skipIf(testDialect !== 'postgres')(
  'a collaborator deleted while the write waits for it (PostgreSQL runs only)',
  () => {
    /**
     * Deletes the collaborator in a second transaction, sends the request while that transaction
     * holds the row (the write's foreign-key check then waits for it), commits once the request
     * is seen waiting, and returns the answer.
     */
    async function racingDelete(
      memberId: number,
      send: () => Promise<{ status: number; body: unknown }>,
    ) {
      const other = new pg.Client({ connectionString: roster.databaseUrl });
      await other.connect();
      try {
        await other.query('begin');
        await other.query('delete from members where id = $1', [memberId]);
        const answer = send();
        // Waits for the request's backend to block on the row lock; a condition, not a time.
        for (;;) {
          const { rows } = await other.query(
            `select count(*)::int as n from pg_stat_activity
              where datname = current_database() and pid <> pg_backend_pid()
                and wait_event_type = 'Lock'`,
          );
          if (rows[0].n > 0) break;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        await other.query('commit');
        return await answer;
      } finally {
        await other.end();
      }
    }

    it('answers a grant to that collaborator with 400 "User … not found"', async () => {
      const bob = await createMember(roster, { email: 'bob@example.com' });
      const res = await racingDelete(bob.id, () =>
        roster.put(`/api/projects/${project}/project_grants`, {
          project_grants: [
            { assignment_type: 'User', assignment_id: bob.id, project_role_id: role },
          ],
        }),
      );
      expect(res.status).toBe(400);
      expect(res.body).toEqual(badRequest(`User ${bob.id} not found`));
    });

    it('answers adding that collaborator to a group with 400 "Users not found"', async () => {
      const carol = await createMember(roster, { email: 'carol@example.com' });
      const res = await racingDelete(carol.id, () =>
        roster.post(`/api/user_groups/${group}/members`, { user_ids: [carol.id] }),
      );
      expect(res.status).toBe(400);
      expect(res.body).toEqual(badRequest(`Users not found: ${carol.id}`));
    });
  },
);
