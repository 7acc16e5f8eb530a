/**
 * POST /api/access/check and check_batch name resources and privileges from the privilege
 * catalogue (packages/contracts/src/privileges.ts). A name outside it can never be allowed, so a
 * typo is a 400 naming the valid choices rather than an ordinary "not allowed"; in a batch, that
 * item carries the error and the others are answered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENVIRONMENT_RESOURCES, PROJECT_RESOURCES } from '@roster/contracts';
import { createMember, startRoster, type Roster } from '../helpers/roster.js';

let roster: Roster;
let memberId: number;
let projectId: number;

const PROJECT_KEYS = Object.keys(PROJECT_RESOURCES).join(', ');

beforeAll(async () => {
  roster = await startRoster();
  // No access in DEV: a legacy role would cover the project too, and only the grant is under test.
  memberId = (
    await createMember(roster, {
      email: 'cat@example.com',
      env_roles: [{ environment_type: 'dev', name: 'No access' }],
    })
  ).id;
  const project = await roster.post('/api/projects', {
    name: 'Catalogue',
    environment_type: 'dev',
  });
  projectId = project.body.data.id;
  const role = await roster.post('/api/project_roles', {
    project_role: { name: 'Recipe reader', config: { recipe: { privileges: ['read'] } } },
  });
  await roster.put(`/api/projects/${projectId}/project_grants`, {
    project_grants: [
      {
        assignment_type: 'User',
        assignment_id: String(memberId),
        project_role_id: role.body.data.id,
      },
    ],
  });
});
afterAll(async () => {
  await roster.close();
});

const error = (title: string) => ({ errors: [{ code: 'bad_request', title }] });

describe('POST /api/access/check with names outside the catalogue', () => {
  it('answers a catalogue privilege as before', async () => {
    const ok = await roster.post('/api/access/check', {
      subject: { member_id: memberId },
      project_id: projectId,
      resource: 'recipe',
      privilege: 'read',
    });
    expect(ok.status).toBe(200);
    expect(ok.body.data.allowed).toBe(true);
    const no = await roster.post('/api/access/check', {
      subject: { member_id: memberId },
      project_id: projectId,
      resource: 'recipe',
      privilege: 'delete',
    });
    expect(no.status).toBe(200);
    expect(no.body.data.allowed).toBe(false);
  });

  it('answers 400 naming the valid privileges for an unknown privilege (recipe:bogus)', async () => {
    const res = await roster.post('/api/access/check', {
      subject: { member_id: memberId },
      project_id: projectId,
      resource: 'recipe',
      privilege: 'bogus',
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(
      error(
        'Unknown privilege "bogus" for resource recipe; valid privileges: read, create, update, delete, run, read_run_history',
      ),
    );
  });

  it('answers 400 naming the valid resources for an unknown resource of a project check', async () => {
    const res = await roster.post('/api/access/check', {
      subject: { member_id: memberId },
      project_id: projectId,
      resource: 'Recipes',
      privilege: 'read',
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(
      error(`Unknown resource "Recipes" for a project check; valid resources: ${PROJECT_KEYS}`),
    );
  });

  it('takes environment and project resources in an environment check, nothing else', async () => {
    for (const resource of ['team', 'recipe']) {
      const res = await roster.post('/api/access/check', {
        subject: { member_id: memberId },
        environment_type: 'dev',
        resource,
        privilege: 'read',
      });
      expect(res.status).toBe(200);
    }
    const res = await roster.post('/api/access/check', {
      subject: { member_id: memberId },
      environment_type: 'dev',
      resource: 'teams',
      privilege: 'read',
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(
      error(
        `Unknown resource "teams" for an environment check; valid resources: ${[
          ...Object.keys(ENVIRONMENT_RESOURCES),
          ...Object.keys(PROJECT_RESOURCES),
        ].join(', ')}`,
      ),
    );
  });

  it('still answers 404 for an unknown member first', async () => {
    const res = await roster.post('/api/access/check', {
      subject: { member_id: 999999 },
      project_id: projectId,
      resource: 'recipe',
      privilege: 'bogus',
    });
    expect(res.status).toBe(404);
  });
});

describe('POST /api/access/check_batch with names outside the catalogue', () => {
  it('answers the item with its error and the other items as usual', async () => {
    const res = await roster.post('/api/access/check_batch', {
      checks: [
        {
          subject: { member_id: memberId },
          project_id: projectId,
          resource: 'recipe',
          privilege: 'read',
        },
        {
          subject: { member_id: memberId },
          project_id: projectId,
          resource: 'recipe',
          privilege: 'bogus',
        },
        {
          subject: { member_id: memberId },
          project_id: projectId,
          resource: 'recipes',
          privilege: 'read',
        },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual([
      { allowed: true, paths: [] },
      {
        allowed: false,
        paths: [],
        error: {
          code: 'bad_request',
          title:
            'Unknown privilege "bogus" for resource recipe; valid privileges: read, create, update, delete, run, read_run_history',
        },
      },
      {
        allowed: false,
        paths: [],
        error: {
          code: 'bad_request',
          title: `Unknown resource "recipes" for a project check; valid resources: ${PROJECT_KEYS}`,
        },
      },
    ]);
  });
});
