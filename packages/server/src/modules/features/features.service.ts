/**
 * Features: what end users get access to (assistants, chat apps, MCP servers, the apps portal),
 * registered per environment, and the grants that give users access to them, directly or
 * through end-user groups (Everyone included). Grants are one input of a decision; policies are
 * the other (decisions/end-user-decisions.ts).
 */
import type {
  CreateFeatureBody,
  Feature,
  FeatureListItem,
  FeatureAccessBody,
  FeatureGrant,
  FeatureKind,
  ListFeaturesQuery,
  UpdateFeatureBody,
} from '@roster/contracts';
import type { Db, Executor } from '../../storage/database.js';
import { isoNow, type Clock } from '../../lib/clock.js';
import { badRequest, notFound } from '../../lib/errors.js';
import { nameAndKey } from '../../lib/names.js';
import type { RequestContext } from '../../lib/context.js';
import { paged, pageRequest, type Paged } from '../../lib/pagination.js';
import { requireEnvironmentAccess } from '../../lib/scope.js';
import { recordChange } from '../audit/audit.repository.js';
import {
  findEndUsersByIds,
  usersWithEnvironmentAccess,
} from '../end-users/end-users.repository.js';
import {
  environmentScope,
  requireEnvironment,
  requireInScope,
} from '../environments/environments.service.js';
import {
  ensureEveryoneGroups,
  findEndUserGroupsByIds,
} from '../memberships/memberships.repository.js';
import {
  countFeatureGrants,
  deleteDirectGrantsInEnvironment,
  deleteFeature,
  deleteFeatureGrants,
  deleteFeatureUpstream,
  findFeatureById,
  findFeatureUpstream,
  findFeatureUpstreams,
  findFeatureByNameKey,
  insertFeature,
  findFeatureGrantsOf,
  insertFeatureGrants,
  listFeatureGrants,
  listFeatures,
  listGrantsForUser,
  updateFeature,
  upsertFeatureUpstream,
  type FeatureGrantRow,
  type FeatureRow,
} from './features.repository.js';
import type { SecretBox } from '../../lib/secret-box.js';
import type { Row } from '../../storage/database.js';
import { checkUpstreamUrl, sealUpstreamHeaders, toFeatureUpstream } from './features.upstream.js';
import type { FeatureGrantsOfUser } from '../end-users/end-users.service.js';

/** The feature grants the end-user directory shows and revokes (passed to it by app.ts). */
export const featureGrantsOfUser: FeatureGrantsOfUser = {
  listForUser: listGrantsForUser,
  revokeDirectInEnvironment: deleteDirectGrantsInEnvironment,
};

export function toFeature(row: FeatureRow, upstream?: Row<'feature_upstreams'>): Feature {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind as FeatureKind,
    description: row.description,
    environment_type: row.environment_type,
    ...(upstream === undefined ? {} : { upstream: toFeatureUpstream(upstream) }),
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

const normalisedName = (name: string | undefined) => nameAndKey(name, 'feature.name_blank');

export function createFeaturesService(deps: {
  db: Db;
  clock: Clock;
  /** Seals the header values of MCP server upstreams (features.upstream.ts). */
  secrets: SecretBox;
}) {
  const now = () => isoNow(deps.clock);

  /** The feature with its upstream, as the API shows it. */
  async function featureOut(db: Executor, row: FeatureRow): Promise<Feature> {
    return toFeature(row, await findFeatureUpstream(db, row.id));
  }

  /**
   * Sets (or with null removes) the upstream of an MCP server feature, in the caller's
   * transaction. Answers what the audit event records of it: the URL and header names only.
   */
  async function writeUpstream(
    trx: Executor,
    ctx: RequestContext,
    feature: { id: number; kind: string },
    upstream: CreateFeatureBody['upstream'],
  ): Promise<{ url: string; header_names: string[] } | null | undefined> {
    if (upstream === undefined) return undefined;
    if (upstream === null) {
      await deleteFeatureUpstream(trx, feature.id);
      return null;
    }
    if (feature.kind !== 'mcp_server') {
      throw badRequest(
        'feature.upstream_kind',
        'Only an mcp_server feature has an upstream MCP server',
      );
    }
    const url = checkUpstreamUrl(upstream.url);
    const stored = await findFeatureUpstream(trx, feature.id);
    const headers = sealUpstreamHeaders(
      deps.secrets,
      { workspaceId: ctx.workspaceId, featureId: feature.id },
      upstream.headers,
      stored?.headers_encrypted,
    );
    const row = {
      feature_id: feature.id,
      workspace_id: ctx.workspaceId,
      url,
      headers_encrypted: headers,
      updated_at: now(),
    };
    await upsertFeatureUpstream(trx, row);
    return toFeatureUpstream(row);
  }

  async function requireFeature(
    db: Executor,
    ctx: RequestContext,
    id: number,
  ): Promise<FeatureRow> {
    return requireInScope(ctx, await findFeatureById(db, ctx.workspaceId, id), () =>
      notFound('feature.not_found', 'Feature not found'),
    );
  }

  async function assertNameFree(
    db: Executor,
    ctx: RequestContext,
    environmentId: number,
    key: string,
    exceptId?: number,
  ) {
    const existing = await findFeatureByNameKey(db, ctx.workspaceId, environmentId, key);
    if (existing !== undefined && existing.id !== exceptId) {
      throw badRequest('feature.name_taken', 'Name has already been taken in this environment');
    }
  }

  function toFeatureGrants(rows: FeatureGrantRow[]): FeatureGrant[] {
    return rows.map((r) => ({
      id: r.id,
      type: r.end_user_id === null ? 'end_user_group' : 'end_user',
      end_user:
        r.end_user_id === null
          ? null
          : { id: r.end_user_id, name: r.user_name ?? '', email: r.user_email ?? '' },
      end_user_group:
        r.group_id === null
          ? null
          : { id: r.group_id, name: r.group_name ?? '', system: r.group_system === 1 },
      created_at: r.created_at,
    }));
  }

  /** The users and groups of an access request: known, and in the feature's environment. */
  async function resolveGrantees(
    db: Executor,
    ctx: RequestContext,
    feature: FeatureRow,
    body: FeatureAccessBody,
    adding: boolean,
  ) {
    const endUserIds = [...new Set(body.end_user_ids ?? [])];
    const groupIds = [...new Set(body.end_user_group_ids ?? [])];
    if (endUserIds.length === 0 && groupIds.length === 0) {
      throw badRequest('feature.grantees_missing', 'Give end_user_ids or end_user_group_ids');
    }
    const [users, groups] = await Promise.all([
      findEndUsersByIds(db, ctx.workspaceId, endUserIds),
      findEndUserGroupsByIds(db, ctx.workspaceId, groupIds),
    ]);
    const missingUsers = endUserIds.filter((id) => !users.some((u) => u.id === id));
    if (missingUsers.length > 0)
      throw badRequest('feature.user_unknown', `End users not found: ${missingUsers.join(', ')}`);
    const missingGroups = groupIds.filter((id) => !groups.some((g) => g.id === id));
    if (missingGroups.length > 0)
      throw badRequest(
        'feature.group_unknown',
        `End-user groups not found: ${missingGroups.join(', ')}`,
      );
    if (adding) {
      const env = feature.environment_type.toUpperCase();
      const foreign = groups.filter((g) => g.environment_id !== feature.environment_id);
      if (foreign.length > 0) {
        throw badRequest(
          'feature.group_environment',
          `Groups of another environment can’t get access to a ${env} feature: ${foreign.map((g) => g.name).join(', ')}`,
        );
      }
      const withAccess = await usersWithEnvironmentAccess(db, feature.environment_id, endUserIds);
      const without = users.filter((u) => !withAccess.has(u.id));
      if (without.length > 0) {
        throw badRequest(
          'feature.user_no_environment',
          `End users without access to the ${env} environment can’t get access to its features: ${without.map((u) => u.email).join(', ')}`,
        );
      }
    }
    return { endUserIds, groupIds };
  }

  return {
    async listFeatures(
      ctx: RequestContext,
      query: ListFeaturesQuery,
    ): Promise<Paged<FeatureListItem>> {
      const page = pageRequest(query);
      const environmentTypes = await environmentScope(deps.db, ctx, query.environment_type);
      const { rows, total } = await listFeatures(
        deps.db,
        ctx.workspaceId,
        { environmentTypes, kind: query.kind, name: query.name },
        page,
      );
      const upstreams = new Map(
        (
          await findFeatureUpstreams(
            deps.db,
            rows.filter((r) => r.kind === 'mcp_server').map((r) => r.id),
          )
        ).map((u) => [u.feature_id, u]),
      );
      return paged(
        rows.map((r) => ({
          ...toFeature(r, upstreams.get(r.id)),
          policy_count: r.policy_count,
        })),
        total,
        page,
      );
    },

    async getFeature(ctx: RequestContext, id: number): Promise<Feature> {
      return featureOut(deps.db, await requireFeature(deps.db, ctx, id));
    },

    async createFeature(ctx: RequestContext, body: CreateFeatureBody): Promise<Feature> {
      const environment = await requireEnvironment(deps.db, ctx.workspaceId, body.environment_type);
      requireEnvironmentAccess(ctx, environment.type);
      const { name, key } = normalisedName(body.name);
      const id = await deps.db.transaction().execute(async (trx) => {
        await assertNameFree(trx, ctx, environment.id, key);
        const row = await insertFeature(trx, {
          workspace_id: ctx.workspaceId,
          environment_id: environment.id,
          kind: body.kind,
          name,
          name_key: key,
          description: body.description ?? null,
          created_at: now(),
          updated_at: now(),
        });
        const upstream = await writeUpstream(trx, ctx, row, body.upstream);
        await recordChange(trx, ctx, now(), 'feature.created', ['feature', row.id], {
          after: {
            name,
            kind: body.kind,
            environment_type: environment.type,
            ...(upstream === undefined || upstream === null ? {} : { upstream }),
          },
        });
        return row.id;
      });
      return featureOut(deps.db, await requireFeature(deps.db, ctx, id));
    },

    async updateFeature(
      ctx: RequestContext,
      id: number,
      body: UpdateFeatureBody,
    ): Promise<Feature> {
      await deps.db.transaction().execute(async (trx) => {
        const feature = await requireFeature(trx, ctx, id);
        const renamed = body.name === undefined ? undefined : normalisedName(body.name);
        if (renamed !== undefined)
          await assertNameFree(trx, ctx, feature.environment_id, renamed.key, id);
        const changes = {
          ...(renamed === undefined ? {} : { name: renamed.name, name_key: renamed.key }),
          ...(body.description === undefined ? {} : { description: body.description }),
        };
        await updateFeature(trx, id, { ...changes, updated_at: now() });
        const before = await findFeatureUpstream(trx, id);
        const upstream = await writeUpstream(trx, ctx, feature, body.upstream);
        await recordChange(trx, ctx, now(), 'feature.updated', ['feature', id], {
          before: {
            name: feature.name,
            description: feature.description,
            ...(upstream === undefined
              ? {}
              : { upstream: before === undefined ? null : toFeatureUpstream(before) }),
          },
          after: {
            name: changes.name,
            description: changes.description,
            ...(upstream === undefined ? {} : { upstream }),
          },
        });
      });
      return featureOut(deps.db, await requireFeature(deps.db, ctx, id));
    },

    /** Deletes the feature with its grants, policies and approval requests (foreign keys cascade). */
    async deleteFeature(ctx: RequestContext, id: number): Promise<void> {
      await deps.db.transaction().execute(async (trx) => {
        const feature = await requireFeature(trx, ctx, id);
        const grants = await countFeatureGrants(trx, id);
        const policies = await trx
          .selectFrom('policies')
          .select(['id', 'name'])
          .where('feature_id', '=', id)
          .execute();
        await deleteFeature(trx, id);
        await recordChange(trx, ctx, now(), 'feature.deleted', ['feature', id], {
          before: {
            name: feature.name,
            kind: feature.kind,
            environment_type: feature.environment_type,
            grants,
            policies,
          },
        });
      });
    },

    async listAccess(
      ctx: RequestContext,
      id: number,
      query: { 'page[number]'?: number; 'page[size]'?: number },
    ): Promise<Paged<FeatureGrant>> {
      await requireFeature(deps.db, ctx, id);
      const page = pageRequest(query);
      const { rows, total } = await listFeatureGrants(deps.db, id, page);
      return paged(toFeatureGrants(rows), total, page);
    },

    /**
     * Answers the grants the request named (new or already there), not the feature's whole list:
     * a grant to a feature with thousands of grants costs what it names, and the write lock is not
     * held while thousands of rows are read (docs/end-users.md).
     */

    async grantAccess(
      ctx: RequestContext,
      id: number,
      body: FeatureAccessBody,
    ): Promise<FeatureGrant[]> {
      // Everyone may be named as a grantee, so it must exist before the IDs are checked.
      await ensureEveryoneGroups(deps.db, ctx.workspaceId, now());
      return deps.db.transaction().execute(async (trx) => {
        const feature = await requireFeature(trx, ctx, id);
        const grantees = await resolveGrantees(trx, ctx, feature, body, true);
        await insertFeatureGrants(trx, ctx.workspaceId, id, grantees, now());
        await recordChange(trx, ctx, now(), 'feature.access_granted', ['feature', id], {
          after: { end_user_ids: grantees.endUserIds, end_user_group_ids: grantees.groupIds },
        });
        return toFeatureGrants(await findFeatureGrantsOf(trx, id, grantees));
      });
    },

    /** Answers the grants it removed (none for grantees who had none). */

    async revokeAccess(
      ctx: RequestContext,
      id: number,
      body: FeatureAccessBody,
    ): Promise<FeatureGrant[]> {
      return deps.db.transaction().execute(async (trx) => {
        const feature = await requireFeature(trx, ctx, id);
        const grantees = await resolveGrantees(trx, ctx, feature, body, false);
        const revoked = await findFeatureGrantsOf(trx, id, grantees);
        if (revoked.length === 0) return [];
        await deleteFeatureGrants(trx, id, grantees);
        await recordChange(trx, ctx, now(), 'feature.access_revoked', ['feature', id], {
          before: { end_user_ids: grantees.endUserIds, end_user_group_ids: grantees.groupIds },
        });
        return toFeatureGrants(revoked);
      });
    },
  };
}
export type FeaturesService = ReturnType<typeof createFeaturesService>;
