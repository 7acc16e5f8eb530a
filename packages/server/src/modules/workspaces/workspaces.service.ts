/**
 * Workspaces and their fixed furniture: environments, the legacy system roles, the system
 * collaborator group, and the bootstrap admin API client. The platform operator creates
 * workspaces; the server creates the default one on first start.
 */
import { sql } from 'kysely';
import { LEGACY_SYSTEM_ROLES } from '@roster/contracts';
import type { Db, Executor, Row } from '../../storage/database.js';
import { toFlag, toJson } from '../../storage/json.js';
import { isoNow, type Clock } from '../../lib/clock.js';
import { newPrefixedId } from '../../lib/ids.js';
import type { Actor } from '../../lib/context.js';
import { insertAuditEvent } from '../audit/audit.repository.js';
import { issueApiClient } from '../api-clients/api-clients.service.js';
import { countWorkspaces, listWorkspaces } from './workspaces.repository.js';
import { listEnvironments } from '../environments/environments.repository.js';

export const ENVIRONMENT_TYPES = ['dev', 'test', 'prod'] as const;
export const SYSTEM_GROUP_NAME = 'All collaborators';

export interface WorkspaceView {
  id: number;
  name: string;
  environments: { id: number; type: string }[];
  created_at: string;
}

async function insertWorkspaceWithDefaults(
  trx: Executor,
  clock: Clock,
  input: { name: string; environments: boolean },
): Promise<Row<'workspaces'>> {
  const now = isoNow(clock);
  const workspace = await trx
    .insertInto('workspaces')
    .values({ name: input.name, environments_enabled: toFlag(input.environments), created_at: now })
    .returningAll()
    .executeTakeFirstOrThrow();
  const types = input.environments ? ENVIRONMENT_TYPES : (['dev'] as const);
  await trx
    .insertInto('environments')
    .values(types.map((type) => ({ workspace_id: workspace.id, type, created_at: now })))
    .execute();
  await trx
    .insertInto('legacy_roles')
    .values(
      Object.entries(LEGACY_SYSTEM_ROLES).map(([name, privileges]) => ({
        workspace_id: workspace.id,
        name,
        name_key: name.toLowerCase(),
        privileges: toJson(privileges),
        system: 1,
        created_at: now,
        updated_at: now,
      })),
    )
    .execute();
  await trx
    .insertInto('collaborator_groups')
    .values({
      id: newPrefixedId('am'),
      workspace_id: workspace.id,
      name: SYSTEM_GROUP_NAME,
      name_key: SYSTEM_GROUP_NAME.toLowerCase(),
      description: 'Every collaborator of the workspace',
      system: 1,
      created_at: now,
      updated_at: now,
    })
    .execute();
  return workspace;
}

export function createWorkspacesService(deps: {
  db: Db;
  clock: Clock;
  dialect: 'sqlite' | 'postgres';
}) {
  async function view(db: Executor, workspace: Row<'workspaces'>): Promise<WorkspaceView> {
    const environments = await listEnvironments(db, workspace.id);
    return {
      id: workspace.id,
      name: workspace.name,
      environments: environments.map((env) => ({ id: env.id, type: env.type })),
      created_at: workspace.created_at,
    };
  }

  return {
    /** Creates a workspace with its defaults and an admin API client; the token is shown once. */
    async createWorkspace(
      actor: Actor,
      input: { name: string; environments: boolean; adminToken?: string },
    ): Promise<WorkspaceView & { admin_token: string }> {
      return deps.db.transaction().execute(async (trx) => {
        const workspace = await insertWorkspaceWithDefaults(trx, deps.clock, input);
        const environments = await listEnvironments(trx, workspace.id);
        const { token } = await issueApiClient(trx, deps.clock, {
          workspaceId: workspace.id,
          name: 'Bootstrap admin',
          environmentTypes: environments.map((env) => env.type),
          projectIds: null,
          token: input.adminToken,
        });
        await insertAuditEvent(trx, {
          workspaceId: workspace.id,
          actor,
          action: 'workspace.created',
          targetType: 'workspace',
          targetId: workspace.id,
          after: { name: workspace.name, environments: environments.map((env) => env.type) },
          createdAt: isoNow(deps.clock),
        });
        return { ...(await view(trx, workspace)), admin_token: token };
      });
    },

    async listWorkspaces(): Promise<WorkspaceView[]> {
      const rows = await listWorkspaces(deps.db);
      return Promise.all(rows.map((row) => view(deps.db, row)));
    },

    /**
     * First start: creates the default workspace unless one exists. Several instances may start
     * at once on PostgreSQL, so the check and the insert run under an advisory lock.
     */
    async ensureDefaultWorkspace(
      adminToken: string | undefined,
    ): Promise<{ created: boolean; token?: string }> {
      return deps.db.transaction().execute(async (trx) => {
        if (deps.dialect === 'postgres')
          await sql`select pg_advisory_xact_lock(7310001)`.execute(trx);
        if ((await countWorkspaces(trx)) > 0) return { created: false };
        const workspace = await insertWorkspaceWithDefaults(trx, deps.clock, {
          name: 'Default',
          environments: true,
        });
        const environments = await listEnvironments(trx, workspace.id);
        const { token } = await issueApiClient(trx, deps.clock, {
          workspaceId: workspace.id,
          name: 'Bootstrap admin',
          environmentTypes: environments.map((env) => env.type),
          projectIds: null,
          token: adminToken,
        });
        await insertAuditEvent(trx, {
          workspaceId: workspace.id,
          actor: { type: 'system', id: null, name: 'first start' },
          action: 'workspace.created',
          targetType: 'workspace',
          targetId: workspace.id,
          after: { name: workspace.name },
          createdAt: isoNow(deps.clock),
        });
        return { created: true, token };
      });
    },
  };
}
export type WorkspacesService = ReturnType<typeof createWorkspacesService>;
