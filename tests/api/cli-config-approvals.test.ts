/**
 * The workspace document and what landed beside it: a require_approval policy's approver chain
 * (collaborators by email, end-user groups by name) and an MCP server feature's upstream (its URL
 * and header names; header values are secrets and never leave the server). Export → apply into a
 * new workspace → export gives the same document; applying twice changes nothing; an apply never
 * wipes an upstream's stored header values (checked through the gateway); bad references are
 * refused with the place in the file, and nothing is applied.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invitationTokenFor, PLATFORM_TOKEN, startRoster, type Roster } from '../helpers/roster.js';
import { startUpstream, type Upstream } from '../helpers/mcp-upstream.js';
import { roster as cli } from '../helpers/cli.js';

let server: Roster;
let upstream: Upstream;

interface Workspace {
  token: string;
  sam: number;
  alice: number;
}

// `any`: answers and documents are JSON read back from the HTTP API, checked by the assertions.
function ok(res: { status: number; text: string; body: any }, what: string): any {
  if (res.status >= 300) throw new Error(`${what}: ${res.status} ${res.text}`);
  return res.body.data;
}

/** A workspace with the people a document names by email: end user Sam, collaborator Alice. */
async function newWorkspace(name: string): Promise<Workspace> {
  const created = await ok(
    await server.post('/platform/workspaces', { name }, PLATFORM_TOKEN),
    'workspace',
  );
  const token = created.admin_token as string;
  const sam = await ok(
    await server.post(
      '/api/end_users',
      { name: 'Sam', email: 'sam@example.com', environment_types: ['prod'] },
      token,
    ),
    'end user',
  );
  await ok(
    await server.post(
      '/api/member_invitations',
      {
        name: 'Alice',
        email: 'alice@example.com',
        env_roles: [{ environment_type: 'prod', name: 'Admin' }],
      },
      token,
    ),
    'invitation',
  );
  const invitation = await invitationTokenFor(server, 'alice@example.com');
  const alice = await ok(
    await server.post(`/invitations/${invitation}/accept`, {}, null),
    'accept',
  );
  return { token, sam: sam.id, alice: alice.id };
}

const exportOf = async (ws: Workspace) =>
  ok(await server.get('/api/workspace/export', ws.token), 'export');
const apply = (ws: Workspace, doc: unknown, dryRun = false) =>
  server.post(`/api/workspace/apply${dryRun ? '?dry_run=true' : ''}`, doc, ws.token);
const featureNamed = async (ws: Workspace, name: string) =>
  (await server.get('/api/features?environment_type=prod', ws.token)).body.data.find(
    (f: { name: string }) => f.name === name,
  );

let source: Workspace;
let target: Workspace;
let document: any; // the exported JSON (see ok())

beforeAll(async () => {
  server = await startRoster();
  upstream = await startUpstream();
  source = await newWorkspace('Chains source');
  target = await newWorkspace('Chains target');
  const security = await ok(
    await server.post(
      '/api/end_user_groups',
      {
        environment_type: 'prod',
        name: 'Security',
        roles: ['Admin'],
        end_user_ids: [source.sam],
      },
      source.token,
    ),
    'group',
  );
  const tickets = await ok(
    await server.post(
      '/api/features',
      {
        environment_type: 'prod',
        kind: 'mcp_server',
        name: 'Ticket MCP',
        upstream: { url: upstream.url, headers: { Authorization: 'Bearer source-secret' } },
      },
      source.token,
    ),
    'feature',
  );
  await ok(
    await server.post(
      `/api/features/${tickets.id}/access`,
      { end_user_ids: [source.sam] },
      source.token,
    ),
    'access',
  );
  await ok(
    await server.post(
      '/api/policies',
      {
        name: 'Approve repo deletes',
        environment_type: 'prod',
        feature_id: tickets.id,
        tools: ['delete_repo'],
        scope: { type: 'all' },
        effect: 'require_approval',
        approval_steps: [
          { collaborator_ids: [source.alice] },
          { collaborator_ids: [source.alice], end_user_group_ids: [security.id] },
        ],
      },
      source.token,
    ),
    'policy',
  );
  document = await exportOf(source);
}, 120_000);

afterAll(async () => {
  await upstream.close();
  await server.close();
});

describe('the workspace document: approver chains and MCP upstreams', { timeout: 300_000 }, () => {
  it('exports the chain by email and name, and the upstream without its header values', () => {
    const policy = document.policies.find(
      (p: { name: string }) => p.name === 'Approve repo deletes',
    );
    expect(policy.approval_steps).toEqual([
      { collaborators: ['alice@example.com'], end_user_groups: [] },
      { collaborators: ['alice@example.com'], end_user_groups: ['Security'] },
    ]);
    const feature = document.features.find((f: { name: string }) => f.name === 'Ticket MCP');
    expect(feature.upstream).toEqual({
      url: new URL(upstream.url).toString(),
      header_names: ['Authorization'],
    });
    expect(JSON.stringify(document)).not.toContain('source-secret');
  });

  it('refuses a header the target has no value for, applying nothing', async () => {
    const before = await exportOf(target);
    const res = await apply(target, document);
    expect(res.status).toBe(400);
    const index = document.features.findIndex((f: { name: string }) => f.name === 'Ticket MCP');
    expect(res.body.errors[0].title).toContain(
      `/features/${index}/upstream/header_names/0: The upstream of feature prod/Ticket MCP has no value for header Authorization`,
    );
    expect(await exportOf(target)).toEqual(before);
  });

  it('reproduces chains and upstream in a new workspace, keeps the stored header value, and a second apply changes nothing', async () => {
    // The first apply names no header (the target has no value yet): the feature gets the URL.
    const withoutHeaders = structuredClone(document);
    for (const feature of withoutHeaders.features)
      if (feature.upstream) feature.upstream.header_names = [];
    const dry = await apply(target, withoutHeaders, true);
    expect(dry.status).toBe(200);
    expect(dry.body.data.steps).toEqual(
      expect.arrayContaining([
        { action: 'create', kind: 'feature', name: 'prod/Ticket MCP' },
        { action: 'create', kind: 'policy', name: 'prod/Approve repo deletes' },
      ]),
    );
    expect(await featureNamed(target, 'Ticket MCP')).toBeUndefined();
    expect((await apply(target, withoutHeaders)).status).toBe(200);

    // The target's own secret, set through the API as a person would.
    const feature = await featureNamed(target, 'Ticket MCP');
    expect(feature.upstream).toEqual({ url: new URL(upstream.url).toString(), header_names: [] });
    await ok(
      await server.request('PATCH', `/api/features/${feature.id}`, {
        body: {
          upstream: { url: upstream.url, headers: { Authorization: 'Bearer target-secret' } },
        },
        token: target.token,
      }),
      'set header',
    );

    // Now the whole export applies, and changes nothing more: the header value is not touched.
    const applied = await apply(target, document);
    expect(applied.status).toBe(200);
    expect(applied.body.data.steps).toEqual([]);
    expect(await exportOf(target)).toEqual(document);

    // A new URL is set, and the stored header value stays (the gateway sends it upstream).
    const moved = structuredClone(document);
    const movedFeature = moved.features.find((f: { name: string }) => f.name === 'Ticket MCP');
    movedFeature.upstream.url = `${upstream.url}?moved=1`;
    const update = await apply(target, moved);
    expect(update.status).toBe(200);
    expect(update.body.data.steps).toEqual([
      { action: 'update', kind: 'feature', name: 'prod/Ticket MCP' },
    ]);
    expect((await apply(target, moved)).body.data.steps).toEqual([]);
    const after = await featureNamed(target, 'Ticket MCP');
    expect(after.upstream.header_names).toEqual(['Authorization']);
    const agent = await ok(
      await server.post(
        '/api/agents',
        {
          name: 'Sam’s agent',
          environment_type: 'prod',
          end_user_id: target.sam,
          feature_ids: [after.id],
        },
        target.token,
      ),
      'agent',
    );
    const client = new Client({ name: 'config-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${server.url}/mcp/${after.id}`), {
        requestInit: { headers: { authorization: `Bearer ${agent.token}` } },
      }),
    );
    try {
      const result = await client.callTool({ name: 'search', arguments: { q: 'config' } });
      expect(result.isError).not.toBe(true);
    } finally {
      await client.close();
    }
    expect(upstream.headers.at(-1)?.authorization).toBe('Bearer target-secret');

    // Absent, the upstream is left alone; null removes it.
    delete movedFeature.upstream;
    expect((await apply(target, moved)).body.data.steps).toEqual([]);
    movedFeature.upstream = null;
    expect((await apply(target, moved)).body.data.steps).toEqual([
      { action: 'update', kind: 'feature', name: 'prod/Ticket MCP' },
    ]);
    expect((await featureNamed(target, 'Ticket MCP')).upstream).toBeUndefined();
    expect((await apply(target, document)).status).toBe(400);
  });

  it('changes and removes a chain through the policies service', async () => {
    const index = document.policies.findIndex(
      (p: { name: string }) => p.name === 'Approve repo deletes',
    );
    const withoutUpstream = structuredClone(document);
    for (const feature of withoutUpstream.features) delete feature.upstream;
    const shorter = structuredClone(withoutUpstream);
    shorter.policies[index].approval_steps = [{ collaborators: [], end_user_groups: ['Security'] }];
    const dry = await apply(target, shorter, true);
    expect(dry.body.data.steps).toEqual([
      { action: 'update', kind: 'policy', name: 'prod/Approve repo deletes' },
    ]);
    expect((await apply(target, shorter)).body.data.applied).toBe(true);
    const policy = (await server.get('/api/policies?environment_type=prod', target.token)).body
      .data[0];
    expect(policy.approval_steps).toEqual([
      { collaborators: [], end_user_groups: [{ id: expect.any(Number), name: 'Security' }] },
    ]);
    expect((await apply(target, shorter)).body.data.steps).toEqual([]);

    delete shorter.policies[index].approval_steps;
    expect((await apply(target, shorter)).body.data.steps).toEqual([
      { action: 'update', kind: 'policy', name: 'prod/Approve repo deletes' },
    ]);
    const exported = await exportOf(target);
    expect(exported.policies[index].approval_steps).toBeUndefined();

    expect((await apply(target, withoutUpstream)).body.data.steps).toEqual([
      { action: 'update', kind: 'policy', name: 'prod/Approve repo deletes' },
    ]);
    expect((await exportOf(target)).policies[index].approval_steps).toEqual(
      document.policies[index].approval_steps,
    );

    // The real binary reads and checks the same document (its own schema check runs first).
    const dir = await mkdtemp(path.join(tmpdir(), 'roster-chains-'));
    try {
      const file = path.join(dir, 'workspace.json');
      await writeFile(file, JSON.stringify(document));
      const remote = { ROSTER_URL: server.url, ROSTER_TOKEN: target.token };
      const exported = await cli(['export'], remote);
      expect(exported.code).toBe(0);
      expect(JSON.parse(exported.stdout)).toEqual(withoutUpstream);
      // The target's upstream was removed above: the header the document names has no value.
      const refused = await cli(['apply', file, '--dry-run'], remote);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(
        '/upstream/header_names/0: The upstream of feature prod/Ticket MCP has no value for header Authorization',
      );
      await writeFile(file, JSON.stringify(withoutUpstream));
      const planned = await cli(['apply', file, '--dry-run', '--json'], remote);
      expect(planned.stderr).toBe('');
      expect(planned.code).toBe(0);
      expect(JSON.parse(planned.stdout).steps).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses bad chain references with the place in the file, and applies nothing', async () => {
    const index = document.policies.findIndex(
      (p: { name: string }) => p.name === 'Approve repo deletes',
    );
    const before = await exportOf(target);
    const withoutUpstream = structuredClone(document);
    for (const feature of withoutUpstream.features) delete feature.upstream;
    const cases: [(policy: any, doc: any) => void, string][] = [
      [
        (policy) => {
          policy.approval_steps[1].collaborators = ['alice@example.com', 'nobody@example.com'];
        },
        `/policies/${index}/approval_steps/1/collaborators/1: No collaborator has the email nobody@example.com`,
      ],
      [
        (policy) => {
          policy.approval_steps[1].end_user_groups = ['Nope'];
        },
        `/policies/${index}/approval_steps/1/end_user_groups/0: End-user group Nope not found in prod`,
      ],
      [
        (policy) => {
          policy.approval_steps[0] = { collaborators: [], end_user_groups: [] };
        },
        `/policies/${index}/approval_steps: Approval step 1 names no approver`,
      ],
      [
        (policy) => {
          policy.effect = 'deny';
        },
        `/policies/${index}/approval_steps: Only a require_approval policy takes approval_steps`,
      ],
      [
        (policy, doc) => {
          // A group the document defines without the Admin role: the policies service refuses it.
          doc.end_user_groups.push({
            environment: 'prod',
            name: 'Readers',
            description: null,
            roles: ['Read Only'],
            members: ['sam@example.com'],
          });
          policy.approval_steps[1].end_user_groups = ['Readers'];
        },
        `/policies/${index}/approval_steps: Approver group Readers does not carry the Admin role`,
      ],
    ];
    for (const [change, message] of cases) {
      const doc = structuredClone(withoutUpstream);
      change(doc.policies[index], doc);
      const res = await apply(target, doc);
      expect(res.status, message).toBe(400);
      expect(res.body.errors[0].title).toContain(message);
    }
    expect(await exportOf(target)).toEqual(before);
  });
});
