/**
 * SCIM 2.0 provisioning (docs/scim.md). Connections are managed through the workspace API; each
 * one exposes `/scim/v2/<id>/Users` and `/Groups` for one environment and one target population.
 *
 * Target `end_users`: a SCIM User is an end user (email = userName, source `scim`) with access to
 * the connection's environment; a SCIM Group is an end-user group of that environment,
 * `managed_by: external`, whose memberships carry `source: external`. `active: false`
 * deactivates the user (status `deactivated`: denied, data kept); DELETE removes it.
 *
 * Every write runs in one transaction with its audit event (actor: the connection). Membership
 * changes are row inserts and deletes (never a read-modify-write of a member list), so parallel
 * PATCHes to one group lose nothing and a retried request changes nothing more.
 */
import { sql } from 'kysely';
import type {
  CreateScimConnectionBody,
  ScimConnection,
  ScimConnectionWithToken,
} from '@roster/contracts';
import type { Db, Dialect, Executor } from '../../storage/database.js';
import { fromJson, toFlag, toJson } from '../../storage/json.js';
import { isoNow, type Clock } from '../../lib/clock.js';
import { badRequest, notFound } from '../../lib/errors.js';
import { newSecret } from '../../lib/ids.js';
import { hashSecret, secretMatches } from '../../lib/secrets.js';
import type { RequestContext } from '../../lib/context.js';
import { requireEnvironmentAccess } from '../../lib/scope.js';
import { insertAuditEvent } from '../audit/audit.repository.js';
import { findEnvironmentByType } from '../workspaces/workspaces.repository.js';
import {
  deleteEndUser,
  deleteEnvironmentAccess,
  findEndUserByEmailKey,
  insertEndUser,
  insertEnvironmentAccess,
} from '../end-users/end-users.repository.js';
import {
  deleteEndUserGroup,
  findEndUserGroupByNameKey,
  insertEndUserGroup,
  updateEndUserGroup,
} from '../end-user-groups/end-user-groups.repository.js';
import { ScimError, scimBadRequest, scimNotFound } from './scim.errors.js';
import { compileFilter, filterTester, parseScimFilter, type FilterTarget } from './scim.filter.js';
import { applyPatch, normalisePatch, type NormalisedOperation } from './scim.patch.js';
import {
  ifMatchSatisfied,
  project,
  renderGroup,
  renderUser,
  userFields,
  wantsAttribute,
  type UserFields,
} from './scim.resources.js';
import {
  canonicalResource,
  isObject,
  LIST_SCHEMA,
  MAX_RESULTS,
  type JsonObject,
} from './scim.schema.js';
import {
  chunks,
  countOtherLinksOfEndUser,
  deleteConnection,
  existingUserIds,
  findConnection,
  findScimGroup,
  findScimUserByEndUser,
  findScimUserByUserNameKey,
  insertConnection,
  insertScimAuditEvent,
  insertScimGroup,
  insertScimUser,
  listConnections,
  listScimGroups,
  listScimUsers,
  updateConnection,
  updateScimGroup,
  updateScimUser,
  type ScimConnectionRow,
  type ScimGroupRow,
  type ScimUserRow,
} from './scim.repository.js';

export interface ListQuery {
  filter?: string | undefined;
  startIndex?: number | undefined;
  count?: number | undefined;
  attributes?: string | undefined;
  excludedAttributes?: string | undefined;
}

export interface Projection {
  attributes?: string | undefined;
  excludedAttributes?: string | undefined;
}

/** A write's answer: the resource (with its ETag) or nothing (PATCH answers 204). */
export interface WriteResult {
  resource: JsonObject;
  version: number;
}

const DEFAULT_COUNT = 100;
const MAX_GROUP_NAME = 200;

function parseId(raw: string): number | undefined {
  return /^\d{1,9}$/.test(raw) ? Number(raw) : undefined;
}

export function createScimService(deps: {
  db: Db;
  clock: Clock;
  dialect: Dialect;
  publicUrl: string;
}) {
  const now = () => isoNow(deps.clock);
  const publicUrl = deps.publicUrl.replace(/\/+$/, '');
  const baseUrlOf = (connectionId: string) => `${publicUrl}/scim/v2/${connectionId}`;
  const actorOf = (connection: ScimConnectionRow) => ({ id: connection.id, name: connection.name });

  async function presentConnection(
    db: Executor,
    workspaceId: number,
    id: string,
  ): Promise<ScimConnection> {
    const row = (await listConnections(db, workspaceId)).find((c) => c.id === id);
    if (row === undefined) throw notFound('scim_connection.not_found', 'SCIM connection not found');
    return {
      id: row.id,
      name: row.name,
      environment_type: row.environment_type,
      target: row.target as ScimConnection['target'],
      default_role: row.default_role,
      base_url: baseUrlOf(row.id),
      token_prefix: row.token_prefix,
      created_at: row.created_at,
      rotated_at: row.rotated_at,
      last_sync_at: row.last_sync_at,
      users_count: Number(row.users_count ?? 0),
      groups_count: Number(row.groups_count ?? 0),
    };
  }

  async function requireConnection(ctx: RequestContext, id: string) {
    const row = await findConnection(deps.db, id);
    if (row === undefined || row.workspace_id !== ctx.workspaceId)
      throw notFound('scim_connection.not_found', 'SCIM connection not found');
    const environment = await deps.db
      .selectFrom('environments')
      .select('type')
      .where('id', '=', row.environment_id)
      .executeTakeFirstOrThrow();
    requireEnvironmentAccess(ctx, environment.type);
    return { row, environmentType: environment.type };
  }

  const tokenPrefix = (token: string) => token.slice(0, 12);

  // ---- rendering ----------------------------------------------------------------------------

  const userMeta = (connection: ScimConnectionRow, row: ScimUserRow, id: string) => ({
    created: row.created_at,
    lastModified: row.updated_at,
    version: row.version,
    location: `${baseUrlOf(connection.id)}/Users/${id}`,
  });
  const groupMeta = (connection: ScimConnectionRow, row: ScimGroupRow, id: string) => ({
    created: row.created_at,
    lastModified: row.updated_at,
    version: row.version,
    location: `${baseUrlOf(connection.id)}/Groups/${id}`,
  });

  const userIdOf = (row: ScimUserRow) => String(row.end_user_id ?? row.member_id ?? '');
  const groupIdOf = (row: ScimGroupRow) =>
    String(row.end_user_group_id ?? row.collaborator_group_id ?? '');

  /** The connection's groups each user belongs to, for the read-only `groups` attribute. */
  async function groupsOfUsers(db: Executor, connection: ScimConnectionRow, endUserIds: number[]) {
    const result = new Map<number, { value: string; display: string; $ref: string }[]>();
    for (const slice of chunks(endUserIds)) {
      if (slice.length === 0) continue;
      const rows = await db
        .selectFrom('end_user_group_members as m')
        .innerJoin('scim_groups as sg', 'sg.end_user_group_id', 'm.group_id')
        .select(['m.end_user_id', 'sg.end_user_group_id', 'sg.display_name'])
        .where('sg.connection_id', '=', connection.id)
        .where('m.end_user_id', 'in', slice)
        .orderBy('sg.id')
        .execute();
      for (const row of rows) {
        const list = result.get(row.end_user_id) ?? [];
        list.push({
          value: String(row.end_user_group_id),
          display: row.display_name,
          $ref: `${baseUrlOf(connection.id)}/Groups/${row.end_user_group_id}`,
        });
        result.set(row.end_user_id, list);
      }
    }
    return result;
  }

  function userResource(
    connection: ScimConnectionRow,
    row: ScimUserRow,
    groups: { value: string; display: string; $ref: string }[],
  ) {
    const id = userIdOf(row);
    return renderUser(
      id,
      {
        userName: row.user_name,
        externalId: row.external_id,
        active: row.active === 1,
        rest: fromJson<JsonObject>(row.resource),
      },
      groups,
      userMeta(connection, row, id),
    );
  }

  async function loadUserResource(db: Executor, connection: ScimConnectionRow, row: ScimUserRow) {
    const groups =
      row.end_user_id === null
        ? []
        : ((await groupsOfUsers(db, connection, [row.end_user_id])).get(row.end_user_id) ?? []);
    return userResource(connection, row, groups);
  }

  /** Members of a connection's group that are users of the connection (the identity provider's view). */
  async function membersOf(db: Executor, connection: ScimConnectionRow, groupId: number) {
    const rows = await db
      .selectFrom('end_user_group_members as m')
      .innerJoin('scim_users as su', (join) =>
        join
          .onRef('su.end_user_id', '=', 'm.end_user_id')
          .on('su.connection_id', '=', connection.id),
      )
      .select(['m.end_user_id', 'su.display_name', 'su.user_name'])
      .where('m.group_id', '=', groupId)
      .orderBy('m.created_at')
      .orderBy('m.end_user_id')
      .execute();
    return rows.map((r) => ({
      value: String(r.end_user_id),
      display: r.display_name ?? r.user_name,
      $ref: `${baseUrlOf(connection.id)}/Users/${r.end_user_id}`,
    }));
  }

  async function groupResource(
    db: Executor,
    connection: ScimConnectionRow,
    row: ScimGroupRow,
    withMembers: boolean,
  ) {
    const id = groupIdOf(row);
    const members =
      withMembers && row.end_user_group_id !== null
        ? await membersOf(db, connection, row.end_user_group_id)
        : withMembers
          ? []
          : null;
    return renderGroup(
      id,
      { displayName: row.display_name, externalId: row.external_id },
      members,
      groupMeta(connection, row, id),
    );
  }

  // ---- lookups --------------------------------------------------------------------------------

  async function requireUser(
    db: Executor,
    connection: ScimConnectionRow,
    rawId: string,
    lock = false,
  ): Promise<ScimUserRow> {
    const id = parseId(rawId);
    const row =
      id === undefined
        ? undefined
        : await findScimUserByEndUser(db, connection.id, id, deps.dialect, lock);
    if (row === undefined) throw scimNotFound(`User ${rawId} not found`);
    return row;
  }

  async function requireGroup(
    db: Executor,
    connection: ScimConnectionRow,
    rawId: string,
    lock = false,
  ): Promise<ScimGroupRow> {
    const id = parseId(rawId);
    const row =
      id === undefined
        ? undefined
        : await findScimGroup(db, connection.id, 'end_user_group_id', id, deps.dialect, lock);
    if (row === undefined) throw scimNotFound(`Group ${rawId} not found`);
    return row;
  }

  function checkVersion(ifMatch: string | undefined, version: number) {
    if (!ifMatchSatisfied(ifMatch, version)) {
      throw new ScimError(
        412,
        `The resource changed: its version is W/"${version}", not ${ifMatch ?? ''}`,
      );
    }
  }

  async function touch(db: Executor, connection: ScimConnectionRow) {
    await updateConnection(db, connection.id, { last_sync_at: now() });
  }

  function pageOf(query: ListQuery) {
    const startIndex = Math.max(1, Math.floor(query.startIndex ?? 1));
    const count = Math.min(Math.max(0, Math.floor(query.count ?? DEFAULT_COUNT)), MAX_RESULTS);
    return { startIndex, count, offset: startIndex - 1 };
  }

  function listResponse(resources: JsonObject[], total: number, startIndex: number) {
    return {
      schemas: [LIST_SCHEMA],
      totalResults: total,
      startIndex,
      itemsPerPage: resources.length,
      Resources: resources,
    };
  }

  const userFilterTarget: FilterTarget = {
    kind: 'User',
    dialect: deps.dialect,
    idColumn: 'su.end_user_id',
    idIsInteger: true,
  };
  const groupFilterTarget: FilterTarget = {
    kind: 'Group',
    dialect: deps.dialect,
    idColumn: 'sg.end_user_group_id',
    idIsInteger: true,
    memberExists: (memberId) => {
      const id = parseId(memberId);
      if (memberId === '')
        return sql<boolean>`exists (select 1 from end_user_group_members m where m.group_id = sg.end_user_group_id)`;
      return id === undefined
        ? sql<boolean>`1 = 0`
        : sql<boolean>`exists (select 1 from end_user_group_members m where m.group_id = sg.end_user_group_id and m.end_user_id = ${id})`;
    },
  };

  // ---- users: writes ----------------------------------------------------------------------------

  function userColumns(fields: UserFields) {
    return {
      user_name: fields.userName,
      user_name_key: fields.userName.toLowerCase(),
      external_id: fields.externalId,
      display_name: fields.displayName,
      given_name: fields.givenName,
      family_name: fields.familyName,
      formatted_name: fields.formatted,
      emails_text: fields.emailsText,
      active: toFlag(fields.active),
      resource: toJson(fields.rest),
    };
  }

  /** end_users follows the SCIM user: name, email (= userName), status from `active`. */
  async function syncEndUser(
    trx: Executor,
    endUserId: number,
    fields: UserFields,
    currentStatus: string,
  ) {
    let status = currentStatus;
    if (!fields.active && (status === 'active' || status === 'invited')) status = 'deactivated';
    if (fields.active && status === 'deactivated') status = 'active';
    await trx
      .updateTable('end_users')
      .set({
        name: fields.personName,
        email: fields.userName,
        email_key: fields.userName.toLowerCase(),
        external_id: fields.externalId,
        status,
        updated_at: now(),
      })
      .where('id', '=', endUserId)
      .execute();
    return status;
  }

  async function writeUser(
    connection: ScimConnectionRow,
    existing: ScimUserRow,
    resource: JsonObject,
    action: 'replaced' | 'patched',
  ): Promise<WriteResult> {
    const fields = userFields(resource);
    return deps.db.transaction().execute(async (trx) => {
      const endUserId = existing.end_user_id;
      if (endUserId === null) throw scimNotFound('User not found');
      const key = fields.userName.toLowerCase();
      if (key !== existing.user_name_key) {
        const clash = await findScimUserByUserNameKey(trx, connection.id, key);
        const other = await findEndUserByEmailKey(trx, connection.workspace_id, key);
        if (
          (clash !== undefined && clash.id !== existing.id) ||
          (other !== undefined && other.id !== endUserId)
        ) {
          throw new ScimError(409, `userName ${fields.userName} is already taken`, 'uniqueness');
        }
      }
      const endUser = await trx
        .selectFrom('end_users')
        .select(['status'])
        .where('id', '=', endUserId)
        .executeTakeFirstOrThrow();
      const status = await syncEndUser(trx, endUserId, fields, endUser.status);
      await updateScimUser(trx, existing.id, {
        ...userColumns(fields),
        version: existing.version + 1,
        updated_at: now(),
      });
      await touch(trx, connection);
      const deactivated = existing.active === 1 && !fields.active;
      const reactivated = existing.active === 0 && fields.active;
      await insertScimAuditEvent(trx, {
        workspaceId: connection.workspace_id,
        actor: actorOf(connection),
        action: deactivated
          ? 'end_user.deactivated'
          : reactivated
            ? 'end_user.reactivated'
            : 'end_user.updated',
        targetType: 'end_user',
        targetId: endUserId,
        before: {
          user_name: existing.user_name,
          active: existing.active === 1,
          external_id: existing.external_id,
        },
        after: {
          user_name: fields.userName,
          name: fields.personName,
          active: fields.active,
          status,
          via: `scim.${action}`,
        },
        createdAt: now(),
      });
      const row = await requireUser(trx, connection, String(endUserId));
      return { resource: await loadUserResource(trx, connection, row), version: row.version };
    });
  }

  // ---- groups: membership ------------------------------------------------------------------------

  /** Member values that name users of this connection; anything else is ignored (docs/scim.md). */
  async function knownMemberIds(
    db: Executor,
    connection: ScimConnectionRow,
    values: unknown[],
  ): Promise<number[]> {
    const ids = [
      ...new Set(
        values.flatMap((v) => {
          const raw = isObject(v) ? v.value : v;
          const id =
            typeof raw === 'string'
              ? parseId(raw.trim())
              : typeof raw === 'number'
                ? raw
                : undefined;
          return id === undefined ? [] : [id];
        }),
      ),
    ];
    if (ids.length === 0) return [];
    const known = await existingUserIds(db, connection.id, 'end_user_id', ids);
    return ids.filter((id) => known.has(id));
  }

  async function addMembers(
    trx: Executor,
    connection: ScimConnectionRow,
    groupId: number,
    ids: number[],
  ) {
    const at = now();
    for (const slice of chunks(ids)) {
      if (slice.length === 0) continue;
      await trx
        .insertInto('end_user_group_members')
        .values(
          slice.map((id) => ({
            workspace_id: connection.workspace_id,
            group_id: groupId,
            end_user_id: id,
            created_at: at,
            source: 'external',
          })),
        )
        // Already a member (by hand or by an earlier request): the identity provider now owns it.
        .onConflict((oc) =>
          oc.columns(['group_id', 'end_user_id']).doUpdateSet({ source: 'external' }),
        )
        .execute();
    }
  }

  async function removeMembers(trx: Executor, groupId: number, ids: number[]): Promise<number> {
    let removed = 0;
    for (const slice of chunks(ids)) {
      if (slice.length === 0) continue;
      const result = await trx
        .deleteFrom('end_user_group_members')
        .where('group_id', '=', groupId)
        .where('end_user_id', 'in', slice)
        .executeTakeFirst();
      removed += Number(result.numDeletedRows);
    }
    return removed;
  }

  /** The drift rule: a full membership sync makes the group exactly what the identity provider says. */
  async function setMembers(
    trx: Executor,
    connection: ScimConnectionRow,
    groupId: number,
    ids: number[],
  ) {
    const current = (
      await trx
        .selectFrom('end_user_group_members')
        .select('end_user_id')
        .where('group_id', '=', groupId)
        .execute()
    ).map((r) => r.end_user_id);
    const wanted = new Set(ids);
    const removed = current.filter((id) => !wanted.has(id));
    await removeMembers(trx, groupId, removed);
    await addMembers(trx, connection, groupId, ids);
    return { added: ids.filter((id) => !current.includes(id)), removed };
  }

  async function currentMemberIds(trx: Executor, groupId: number) {
    return (
      await trx
        .selectFrom('end_user_group_members')
        .select('end_user_id')
        .where('group_id', '=', groupId)
        .execute()
    ).map((r) => r.end_user_id);
  }

  function groupName(value: unknown): string {
    const name = typeof value === 'string' ? value.trim() : '';
    if (name === '') throw scimBadRequest('invalidValue', 'displayName is required');
    if (name.length > MAX_GROUP_NAME)
      throw scimBadRequest(
        'invalidValue',
        `displayName is longer than ${MAX_GROUP_NAME} characters`,
      );
    return name;
  }

  async function renameGroup(
    trx: Executor,
    connection: ScimConnectionRow,
    group: ScimGroupRow,
    name: string,
    externalId: string | null,
  ) {
    if (group.end_user_group_id === null) return;
    if (name.toLowerCase() !== group.display_name.toLowerCase()) {
      const clash = await findEndUserGroupByNameKey(
        trx,
        connection.workspace_id,
        connection.environment_id,
        name.toLowerCase(),
      );
      if (clash !== undefined && clash.id !== group.end_user_group_id)
        throw new ScimError(409, `A group named ${name} already exists`, 'uniqueness');
    }
    await updateEndUserGroup(trx, group.end_user_group_id, {
      name,
      name_key: name.toLowerCase(),
      updated_at: now(),
    });
    await updateScimGroup(trx, group.id, {
      display_name: name,
      external_id: externalId,
      updated_at: now(),
    });
  }

  return {
    // ---- connections (workspace API) --------------------------------------------------------

    async createConnection(
      ctx: RequestContext,
      body: CreateScimConnectionBody,
    ): Promise<ScimConnectionWithToken> {
      const environment = await findEnvironmentByType(
        deps.db,
        ctx.workspaceId,
        body.environment_type,
      );
      if (environment === undefined)
        throw badRequest('environment.not_found', `Environment ${body.environment_type} not found`);
      requireEnvironmentAccess(ctx, environment.type);
      if (body.target === 'collaborators') {
        throw badRequest(
          'scim_connection.target_unsupported',
          'SCIM provisioning of collaborators is not available yet: use target end_users',
        );
      }
      if (body.default_role !== undefined) {
        throw badRequest(
          'scim_connection.default_role',
          'default_role applies to collaborator connections only',
        );
      }
      const id = `scim_${newSecret('c')
        .slice(2, 22)
        .replace(/[^A-Za-z0-9]/g, 'x')}`;
      const token = newSecret('rscim');
      const name = body.name?.trim() || `SCIM ${environment.type} end users`;
      await deps.db.transaction().execute(async (trx) => {
        await insertConnection(trx, {
          id,
          workspace_id: ctx.workspaceId,
          environment_id: environment.id,
          target: body.target,
          name,
          default_role: null,
          token_hash: hashSecret(token),
          token_prefix: tokenPrefix(token),
          created_at: now(),
          rotated_at: null,
          last_sync_at: null,
        });
        await insertAuditEvent(trx, {
          workspaceId: ctx.workspaceId,
          actor: ctx.actor,
          action: 'scim_connection.created',
          targetType: 'scim_connection',
          targetId: id,
          after: { name, environment_type: environment.type, target: body.target },
          createdAt: now(),
        });
      });
      return { ...(await presentConnection(deps.db, ctx.workspaceId, id)), token };
    },

    async listConnections(ctx: RequestContext): Promise<ScimConnection[]> {
      const rows = await listConnections(deps.db, ctx.workspaceId);
      const visible = rows.filter((r) => ctx.scope.environmentTypes.has(r.environment_type));
      return Promise.all(visible.map((r) => presentConnection(deps.db, ctx.workspaceId, r.id)));
    },

    async getConnection(ctx: RequestContext, id: string): Promise<ScimConnection> {
      await requireConnection(ctx, id);
      return presentConnection(deps.db, ctx.workspaceId, id);
    },

    /** A new token; the old one stops working at once. */
    async rotateToken(ctx: RequestContext, id: string): Promise<ScimConnectionWithToken> {
      await requireConnection(ctx, id);
      const token = newSecret('rscim');
      await deps.db.transaction().execute(async (trx) => {
        await updateConnection(trx, id, {
          token_hash: hashSecret(token),
          token_prefix: tokenPrefix(token),
          rotated_at: now(),
        });
        await insertAuditEvent(trx, {
          workspaceId: ctx.workspaceId,
          actor: ctx.actor,
          action: 'scim_connection.token_rotated',
          targetType: 'scim_connection',
          targetId: id,
          createdAt: now(),
        });
      });
      return { ...(await presentConnection(deps.db, ctx.workspaceId, id)), token };
    },

    /** Stops provisioning; the users and groups it created stay (now managed by hand). */
    async deleteConnection(ctx: RequestContext, id: string): Promise<void> {
      const { row } = await requireConnection(ctx, id);
      await deps.db.transaction().execute(async (trx) => {
        const groupIds = (
          await trx
            .selectFrom('scim_groups')
            .select('end_user_group_id')
            .where('connection_id', '=', id)
            .execute()
        ).flatMap((g) => (g.end_user_group_id === null ? [] : [g.end_user_group_id]));
        for (const slice of chunks(groupIds)) {
          await trx
            .updateTable('end_user_groups')
            .set({ managed_by: 'manual', updated_at: now() })
            .where('id', 'in', slice)
            .execute();
          await trx
            .updateTable('end_user_group_members')
            .set({ source: 'manual' })
            .where('group_id', 'in', slice)
            .execute();
        }
        await deleteConnection(trx, id);
        await insertAuditEvent(trx, {
          workspaceId: ctx.workspaceId,
          actor: ctx.actor,
          action: 'scim_connection.deleted',
          targetType: 'scim_connection',
          targetId: id,
          before: { name: row.name, target: row.target },
          createdAt: now(),
        });
      });
    },

    /** The SCIM endpoints' authentication: the connection's token, compared by hash in constant time. */
    async authenticate(
      connectionId: string,
      token: string | undefined,
    ): Promise<ScimConnectionRow | undefined> {
      if (connectionId.length > 64) return undefined;
      const row = await findConnection(deps.db, connectionId);
      if (row === undefined) {
        // Same work for unknown connections, so timing does not tell which IDs exist.
        secretMatches(token ?? '', hashSecret('unknown'));
        return undefined;
      }
      return token !== undefined && secretMatches(token, row.token_hash) ? row : undefined;
    },

    baseUrlOf,

    // ---- Users ------------------------------------------------------------------------------

    async listUsers(connection: ScimConnectionRow, query: ListQuery) {
      const page = pageOf(query);
      const where =
        query.filter === undefined || query.filter.trim() === ''
          ? undefined
          : compileFilter(userFilterTarget, parseScimFilter(query.filter));
      const { rows, total } = await listScimUsers(
        deps.db,
        connection.id,
        where,
        page.offset,
        page.count,
      );
      const groups = wantsAttribute('User', 'groups', query.attributes, query.excludedAttributes)
        ? await groupsOfUsers(
            deps.db,
            connection,
            rows.flatMap((r) => (r.end_user_id === null ? [] : [r.end_user_id])),
          )
        : new Map<number, { value: string; display: string; $ref: string }[]>();
      const resources = rows.map((row) =>
        project(
          'User',
          userResource(connection, row, groups.get(row.end_user_id ?? -1) ?? []),
          query.attributes,
          query.excludedAttributes,
        ),
      );
      return listResponse(resources, total, page.startIndex);
    },

    async getUser(connection: ScimConnectionRow, id: string, projection: Projection) {
      const row = await requireUser(deps.db, connection, id);
      const resource = await loadUserResource(deps.db, connection, row);
      return {
        resource: project('User', resource, projection.attributes, projection.excludedAttributes),
        version: row.version,
      };
    },

    async createUser(connection: ScimConnectionRow, body: unknown): Promise<WriteResult> {
      if (!isObject(body)) throw scimBadRequest('invalidSyntax', 'The body must be a User object');
      const fields = userFields(canonicalResource('User', body));
      const key = fields.userName.toLowerCase();
      return deps.db.transaction().execute(async (trx) => {
        if ((await findScimUserByUserNameKey(trx, connection.id, key)) !== undefined) {
          throw new ScimError(
            409,
            `A user with userName ${fields.userName} already exists`,
            'uniqueness',
          );
        }
        // An end user with this email that this connection does not manage yet is adopted: the
        // identity provider takes it over (docs/scim.md), rather than failing the whole sync.
        let endUser = await findEndUserByEmailKey(trx, connection.workspace_id, key);
        let adopted = false;
        if (endUser === undefined) {
          endUser = await insertEndUser(trx, {
            workspace_id: connection.workspace_id,
            name: fields.personName,
            email: fields.userName,
            email_key: key,
            avatar_url: null,
            external_id: fields.externalId,
            status: fields.active ? 'active' : 'deactivated',
            mfa_enabled: 0,
            source: 'scim',
            created_at: now(),
            updated_at: now(),
          });
        } else {
          adopted = true;
          await syncEndUser(trx, endUser.id, fields, endUser.status);
        }
        await insertEnvironmentAccess(
          trx,
          connection.workspace_id,
          endUser.id,
          [connection.environment_id],
          now(),
        );
        const row = await insertScimUser(trx, {
          workspace_id: connection.workspace_id,
          connection_id: connection.id,
          end_user_id: endUser.id,
          member_id: null,
          ...userColumns(fields),
          saved_role: null,
          version: 1,
          created_at: now(),
          updated_at: now(),
        });
        await touch(trx, connection);
        await insertScimAuditEvent(trx, {
          workspaceId: connection.workspace_id,
          actor: actorOf(connection),
          action: adopted ? 'end_user.scim_linked' : 'end_user.created',
          targetType: 'end_user',
          targetId: endUser.id,
          after: {
            name: fields.personName,
            email: fields.userName,
            source: 'scim',
            active: fields.active,
            external_id: fields.externalId,
          },
          createdAt: now(),
        });
        return { resource: await loadUserResource(trx, connection, row), version: row.version };
      });
    },

    async replaceUser(
      connection: ScimConnectionRow,
      id: string,
      body: unknown,
      ifMatch: string | undefined,
    ): Promise<WriteResult> {
      if (!isObject(body)) throw scimBadRequest('invalidSyntax', 'The body must be a User object');
      const existing = await requireUser(deps.db, connection, id);
      checkVersion(ifMatch, existing.version);
      const resource = canonicalResource('User', body);
      // PUT replaces what is given; `active` left out means active (RFC 7643 gives no default, Okta sends it).
      return writeUser(connection, existing, resource, 'replaced');
    },

    /** `render: false` skips building the answer (PATCH answers 204 unless attributes are asked). */
    async patchUser(
      connection: ScimConnectionRow,
      id: string,
      body: unknown,
      ifMatch: string | undefined,
      render = true,
    ): Promise<WriteResult> {
      const operations = normalisePatch('User', body);
      // Read, patch and write under the row lock (PostgreSQL) or the single writer (SQLite).
      return deps.db.transaction().execute(async (trx) => {
        const existing = await requireUser(trx, connection, id, true);
        checkVersion(ifMatch, existing.version);
        const current: JsonObject = {
          userName: existing.user_name,
          ...(existing.external_id === null ? {} : { externalId: existing.external_id }),
          active: existing.active === 1,
          ...fromJson<JsonObject>(existing.resource),
        };
        const patched = canonicalResource('User', applyPatch(current, operations));
        const fields = userFields(patched);
        const endUserId = existing.end_user_id;
        if (endUserId === null) throw scimNotFound(`User ${id} not found`);
        const key = fields.userName.toLowerCase();
        if (key !== existing.user_name_key) {
          const clash = await findScimUserByUserNameKey(trx, connection.id, key);
          const other = await findEndUserByEmailKey(trx, connection.workspace_id, key);
          if (
            (clash !== undefined && clash.id !== existing.id) ||
            (other !== undefined && other.id !== endUserId)
          ) {
            throw new ScimError(409, `userName ${fields.userName} is already taken`, 'uniqueness');
          }
        }
        const endUser = await trx
          .selectFrom('end_users')
          .select(['status'])
          .where('id', '=', endUserId)
          .executeTakeFirstOrThrow();
        const status = await syncEndUser(trx, endUserId, fields, endUser.status);
        await updateScimUser(trx, existing.id, {
          ...userColumns(fields),
          version: existing.version + 1,
          updated_at: now(),
        });
        await touch(trx, connection);
        const deactivated = existing.active === 1 && !fields.active;
        const reactivated = existing.active === 0 && fields.active;
        await insertScimAuditEvent(trx, {
          workspaceId: connection.workspace_id,
          actor: actorOf(connection),
          action: deactivated
            ? 'end_user.deactivated'
            : reactivated
              ? 'end_user.reactivated'
              : 'end_user.updated',
          targetType: 'end_user',
          targetId: endUserId,
          before: { user_name: existing.user_name, active: existing.active === 1 },
          after: {
            user_name: fields.userName,
            active: fields.active,
            status,
            operations: operations.map((o) => ({ op: o.op, path: o.path })),
          },
          createdAt: now(),
        });
        const row = await requireUser(trx, connection, String(endUserId));
        return {
          resource: render ? await loadUserResource(trx, connection, row) : {},
          version: row.version,
        };
      });
    },

    /**
     * Removes the user and its grants. A person also provisioned by another connection keeps the
     * end user: only this connection's environment access (and its groups there) go.
     */
    async deleteUser(
      connection: ScimConnectionRow,
      id: string,
      ifMatch: string | undefined,
    ): Promise<void> {
      await deps.db.transaction().execute(async (trx) => {
        const existing = await requireUser(trx, connection, id, true);
        checkVersion(ifMatch, existing.version);
        const endUserId = existing.end_user_id;
        if (endUserId === null) throw scimNotFound(`User ${id} not found`);
        const others = await countOtherLinksOfEndUser(trx, endUserId, connection.id);
        if (others === 0) {
          await deleteEndUser(trx, endUserId);
        } else {
          await trx
            .deleteFrom('end_user_group_members')
            .where('end_user_id', '=', endUserId)
            .where('group_id', 'in', (eb) =>
              eb
                .selectFrom('end_user_groups')
                .select('id')
                .where('environment_id', '=', connection.environment_id),
            )
            .execute();
          await deleteEnvironmentAccess(trx, endUserId, connection.environment_id);
          await trx.deleteFrom('scim_users').where('id', '=', existing.id).execute();
        }
        await touch(trx, connection);
        await insertScimAuditEvent(trx, {
          workspaceId: connection.workspace_id,
          actor: actorOf(connection),
          action: others === 0 ? 'end_user.deleted' : 'end_user.environment_revoked',
          targetType: 'end_user',
          targetId: endUserId,
          before: { user_name: existing.user_name, external_id: existing.external_id },
          createdAt: now(),
        });
      });
    },

    // ---- Groups -----------------------------------------------------------------------------

    async listGroups(connection: ScimConnectionRow, query: ListQuery) {
      const page = pageOf(query);
      const where =
        query.filter === undefined || query.filter.trim() === ''
          ? undefined
          : compileFilter(groupFilterTarget, parseScimFilter(query.filter));
      const { rows, total } = await listScimGroups(
        deps.db,
        connection.id,
        where,
        page.offset,
        page.count,
      );
      const withMembers = wantsAttribute(
        'Group',
        'members',
        query.attributes,
        query.excludedAttributes,
      );
      const resources: JsonObject[] = [];
      for (const row of rows) {
        resources.push(
          project(
            'Group',
            await groupResource(deps.db, connection, row, withMembers),
            query.attributes,
            query.excludedAttributes,
          ),
        );
      }
      return listResponse(resources, total, page.startIndex);
    },

    async getGroup(connection: ScimConnectionRow, id: string, projection: Projection) {
      const row = await requireGroup(deps.db, connection, id);
      const withMembers = wantsAttribute(
        'Group',
        'members',
        projection.attributes,
        projection.excludedAttributes,
      );
      const resource = await groupResource(deps.db, connection, row, withMembers);
      return {
        resource: project('Group', resource, projection.attributes, projection.excludedAttributes),
        version: row.version,
      };
    },

    async createGroup(connection: ScimConnectionRow, body: unknown): Promise<WriteResult> {
      if (!isObject(body)) throw scimBadRequest('invalidSyntax', 'The body must be a Group object');
      const resource = canonicalResource('Group', body);
      const name = groupName(resource.displayName);
      const externalId = typeof resource.externalId === 'string' ? resource.externalId : null;
      const members = Array.isArray(resource.members) ? resource.members : [];
      return deps.db.transaction().execute(async (trx) => {
        // A group of the same name that no connection manages is adopted (docs/scim.md).
        const existing = await findEndUserGroupByNameKey(
          trx,
          connection.workspace_id,
          connection.environment_id,
          name.toLowerCase(),
        );
        if (existing !== undefined) {
          const linked = await trx
            .selectFrom('scim_groups')
            .select('connection_id')
            .where('end_user_group_id', '=', existing.id)
            .executeTakeFirst();
          if (linked !== undefined || existing.system === 1)
            throw new ScimError(409, `A group named ${name} already exists`, 'uniqueness');
          await updateEndUserGroup(trx, existing.id, { managed_by: 'external', updated_at: now() });
        }
        const group =
          existing ??
          (await insertEndUserGroup(trx, {
            workspace_id: connection.workspace_id,
            environment_id: connection.environment_id,
            name,
            name_key: name.toLowerCase(),
            description: null,
            managed_by: 'external',
            roles: '[]',
            system: 0,
            created_at: now(),
            updated_at: now(),
          }));
        const row = await insertScimGroup(trx, {
          workspace_id: connection.workspace_id,
          connection_id: connection.id,
          end_user_group_id: group.id,
          collaborator_group_id: null,
          display_name: name,
          external_id: externalId,
          version: 1,
          created_at: now(),
          updated_at: now(),
        });
        const ids = await knownMemberIds(trx, connection, members);
        const change =
          existing === undefined
            ? (await addMembers(trx, connection, group.id, ids),
              { added: ids, removed: [] as number[] })
            : await setMembers(trx, connection, group.id, ids);
        await touch(trx, connection);
        await insertScimAuditEvent(trx, {
          workspaceId: connection.workspace_id,
          actor: actorOf(connection),
          action: existing === undefined ? 'end_user_group.created' : 'end_user_group.scim_linked',
          targetType: 'end_user_group',
          targetId: group.id,
          after: {
            name,
            managed_by: 'external',
            external_id: externalId,
            members_added: change.added,
            members_removed: change.removed,
          },
          createdAt: now(),
        });
        return { resource: await groupResource(trx, connection, row, true), version: row.version };
      });
    },

    async replaceGroup(
      connection: ScimConnectionRow,
      id: string,
      body: unknown,
      ifMatch: string | undefined,
    ): Promise<WriteResult> {
      if (!isObject(body)) throw scimBadRequest('invalidSyntax', 'The body must be a Group object');
      const resource = canonicalResource('Group', body);
      const name = groupName(resource.displayName);
      const externalId = typeof resource.externalId === 'string' ? resource.externalId : null;
      const members = Array.isArray(resource.members) ? resource.members : [];
      return deps.db.transaction().execute(async (trx) => {
        const group = await requireGroup(trx, connection, id, true);
        checkVersion(ifMatch, group.version);
        const groupId = group.end_user_group_id;
        if (groupId === null) throw scimNotFound(`Group ${id} not found`);
        await renameGroup(trx, connection, group, name, externalId);
        const change = await setMembers(
          trx,
          connection,
          groupId,
          await knownMemberIds(trx, connection, members),
        );
        await touch(trx, connection);
        await insertScimAuditEvent(trx, {
          workspaceId: connection.workspace_id,
          actor: actorOf(connection),
          action: 'end_user_group.updated',
          targetType: 'end_user_group',
          targetId: groupId,
          before: { name: group.display_name },
          after: {
            name,
            external_id: externalId,
            members_added: change.added,
            members_removed: change.removed,
            via: 'scim.replaced',
          },
          createdAt: now(),
        });
        const row = await requireGroup(trx, connection, id);
        return { resource: await groupResource(trx, connection, row, true), version: row.version };
      });
    },

    async patchGroup(
      connection: ScimConnectionRow,
      id: string,
      body: unknown,
      ifMatch: string | undefined,
      render = true,
    ): Promise<WriteResult> {
      const operations = normalisePatch('Group', body);
      return deps.db.transaction().execute(async (trx) => {
        const group = await requireGroup(trx, connection, id, true);
        checkVersion(ifMatch, group.version);
        const groupId = group.end_user_group_id;
        if (groupId === null) throw scimNotFound(`Group ${id} not found`);
        const added: number[] = [];
        const removed: number[] = [];
        const attributeOps: NormalisedOperation[] = [];
        for (const operation of operations) {
          if (operation.resolved.def.name !== 'members') {
            attributeOps.push(operation);
            continue;
          }
          const values = Array.isArray(operation.value)
            ? operation.value
            : operation.value === undefined
              ? []
              : [operation.value];
          if (operation.op === 'add') {
            const ids = await knownMemberIds(trx, connection, values);
            await addMembers(trx, connection, groupId, ids);
            added.push(...ids);
          } else if (operation.op === 'replace') {
            if (operation.filter !== undefined)
              throw scimBadRequest('invalidPath', 'Replace members without a value filter');
            const change = await setMembers(
              trx,
              connection,
              groupId,
              await knownMemberIds(trx, connection, values),
            );
            added.push(...change.added);
            removed.push(...change.removed);
          } else {
            let ids: number[];
            if (operation.filter !== undefined) {
              // members[value eq "…"] (or any filter on members): test it on the current members.
              const test = filterTester(operation.filter);
              ids = (await currentMemberIds(trx, groupId)).filter((memberId) =>
                test({ value: String(memberId), type: 'User' }),
              );
            } else if (values.length > 0) {
              ids = values.flatMap((v) => {
                const raw = isObject(v) ? v.value : v;
                const memberId = typeof raw === 'string' ? parseId(raw) : undefined;
                return memberId === undefined ? [] : [memberId];
              });
            } else {
              ids = await currentMemberIds(trx, groupId);
            }
            await removeMembers(trx, groupId, ids);
            removed.push(...ids);
          }
        }
        let name = group.display_name;
        let externalId = group.external_id;
        if (attributeOps.length > 0) {
          const patched = canonicalResource(
            'Group',
            applyPatch(
              {
                displayName: group.display_name,
                ...(group.external_id === null ? {} : { externalId: group.external_id }),
              },
              attributeOps,
            ),
          );
          name = groupName(patched.displayName);
          externalId = typeof patched.externalId === 'string' ? patched.externalId : null;
          await renameGroup(trx, connection, group, name, externalId);
        } else {
          await updateScimGroup(trx, group.id, { updated_at: now() });
        }
        await touch(trx, connection);
        await insertScimAuditEvent(trx, {
          workspaceId: connection.workspace_id,
          actor: actorOf(connection),
          action:
            added.length > 0 && removed.length === 0 && attributeOps.length === 0
              ? 'end_user_group.members_added'
              : removed.length > 0 && added.length === 0 && attributeOps.length === 0
                ? 'end_user_group.members_removed'
                : 'end_user_group.updated',
          targetType: 'end_user_group',
          targetId: groupId,
          before: { name: group.display_name },
          after: { name, members_added: added, members_removed: removed, via: 'scim.patched' },
          createdAt: now(),
        });
        const row = await requireGroup(trx, connection, id);
        return {
          resource: render ? await groupResource(trx, connection, row, true) : {},
          version: row.version,
        };
      });
    },

    async deleteGroup(
      connection: ScimConnectionRow,
      id: string,
      ifMatch: string | undefined,
    ): Promise<void> {
      await deps.db.transaction().execute(async (trx) => {
        const group = await requireGroup(trx, connection, id, true);
        checkVersion(ifMatch, group.version);
        if (group.end_user_group_id !== null)
          await deleteEndUserGroup(trx, group.end_user_group_id);
        await touch(trx, connection);
        await insertScimAuditEvent(trx, {
          workspaceId: connection.workspace_id,
          actor: actorOf(connection),
          action: 'end_user_group.deleted',
          targetType: 'end_user_group',
          targetId: group.end_user_group_id ?? id,
          before: { name: group.display_name, external_id: group.external_id },
          createdAt: now(),
        });
      });
    },

    projectUser: (resource: JsonObject, p: Projection) =>
      project('User', resource, p.attributes, p.excludedAttributes),
    projectGroup: (resource: JsonObject, p: Projection) =>
      project('Group', resource, p.attributes, p.excludedAttributes),
  };
}
export type ScimService = ReturnType<typeof createScimService>;
