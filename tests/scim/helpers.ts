/**
 * SCIM test helpers: a connection created through the workspace API, and a small client that
 * speaks to `/scim/v2/<id>` with the connection's token, as an identity provider would.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ApiResponse, Roster } from '../helpers/roster.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The external suites live in the shared folder beside the repository. */
export const conformanceDir = path.resolve(repoRoot, '../shared/conformance/scim');

export interface ScimConnection {
  id: string;
  token: string;
  base_url: string;
}

export type ScimTarget = 'end_users' | 'collaborators';

/** Which population the conformance suites run against: `end_users`, or `collaborators`. */
export const TARGETS: ScimTarget[] = ['end_users', 'collaborators'];

export async function createConnection(
  roster: Roster,
  environmentType = 'dev',
  target: ScimTarget = 'end_users',
  extra: { default_role?: string; default_role_type?: string } = {},
): Promise<ScimConnection> {
  const response = await roster.post('/api/scim_connections', {
    environment_type: environmentType,
    target,
    ...extra,
  });
  if (response.status !== 201) throw new Error(`connection: ${response.status} ${response.text}`);
  return response.body.data;
}

export interface ScimClient {
  base: string;
  request<T = any>(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<ApiResponse<T>>;
}

export function scimClient(roster: Roster, connection: ScimConnection): ScimClient {
  const base = `/scim/v2/${connection.id}`;
  return {
    base,
    request: (method, requestPath, body, headers) =>
      roster.request(method, `${base}${requestPath}`, {
        body,
        token: connection.token,
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/scim+json' }),
          ...headers,
        },
      }),
  };
}

export interface ChildRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runNode(args: string[], cwd = repoRoot): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}
