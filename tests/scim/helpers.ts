/**
 * SCIM test helpers: a connection created through the workspace API, and a small client that
 * speaks to `/scim/v2/<id>` with the connection's token, as an identity provider would.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ApiResponse, Roster } from '../helpers/roster.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/**
 * The external suites (Okta's and Microsoft's, not redistributed here) live in the shared folder
 * beside the repository, as CI has it; ROSTER_SCIM_CONFORMANCE_DIR points elsewhere. A clone
 * without them skips those tests and says what they need.
 */
export const conformanceDir = path.resolve(
  process.env.ROSTER_SCIM_CONFORMANCE_DIR ?? path.join(repoRoot, '../shared/conformance/scim'),
);

/** Whether `conformanceDir` holds every file the named suite reads. */
export function hasConformance(...files: string[]): boolean {
  return files.every((file) => existsSync(path.join(conformanceDir, file)));
}

/** The name of the placeholder test that stands for a suite skipped for want of its files. */
export function conformanceMissing(suite: string, files: string[]): string {
  return `skips ${suite}: ${files.map((file) => path.join(conformanceDir, file)).join(', ')} not found (put the conformance suites in ../shared/conformance/scim beside the clone, as CI has them, or set ROSTER_SCIM_CONFORMANCE_DIR)`;
}

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
