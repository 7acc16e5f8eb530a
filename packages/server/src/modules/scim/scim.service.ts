/**
 * SCIM 2.0 provisioning (docs/scim.md). Connections are managed through the workspace API; each
 * one exposes `/scim/v2/<id>/Users` and `/Groups` for one environment and one target population.
 *
 * This service owns the protocol: parsing, PATCH, filters, paging, versions, transactions and
 * audit. What a SCIM user and group are in Roster is the target's adapter
 * (scim.population.ts): end users and end-user groups (scim.end-users.ts), or collaborators and
 * collaborator groups (scim.collaborators.ts).
 *
 * Managing connections needs a collaborator or API client (never an end-user console session):
 * an `end_users` connection needs its environment; a `collaborators` connection can adopt, rename
 * and delete any collaborator and collaborator group, so creating, changing, rotating or deleting
 * one needs full workspace access (lib/scope.ts requireWorkspaceAdmin).
 *
 * Every write runs in one transaction with its audit event (actor: the connection). Membership
 * changes are row inserts and deletes (never a read-modify-write of a member list), so parallel
 * PATCHes to one group lose nothing and a retried request changes nothing more.
 */
import type { ChangeTracker } from '../../lib/change-tracking.js';
import {
  ID_MAX,
  type CreateScimConnectionBody,
  type ScimConnection,
  type ScimConnectionWithToken,
  type UpdateScimConnectionBody,
} from '@roster/contracts';
import type { Db, Dialect, Executor } from '../../storage/database.js';
import { mapRead, readTogether } from '../../storage/pipeline.js';
import { afterCommit } from '../../storage/commit-hooks.js';
import { fromJson, toFlag, toJson } from '../../storage/json.js';
import { isoNow, type Clock } from '../../lib/clock.js';
import { badRequest, notFound } from '../../lib/errors.js';
import { newSecret } from '../../lib/ids.js';
import { hashSecret, secretMatches } from '../../lib/secrets.js';
import type { RequestContext } from '../../lib/context.js';
import {
  requireCollaboratorActor,
  requireEnvironmentAccess,
  requireWorkspaceAdmin,
} from '../../lib/scope.js';
import { recordChange } from '../audit/audit.repository.js';
import type { ChangeSubscriptions } from '../audit/change-feed.js';
import type { ChangeTargetType } from '../audit/change-kinds.js';
import { resolveEnvRoles } from '../roles/roles.service.js';
import { listEnvironments } from '../environments/environments.repository.js';
import { requireEnvironment } from '../environments/environments.service.js';
import { collaboratorPopulation } from './scim.collaborators.js';
import { ScimConnectionCache } from './scim.connection-cache.js';
import { endUserPopulation } from './scim.end-users.js';
import { ScimError, scimBadRequest, scimNotFound } from './scim.errors.js';
import { compileFilter, filterTester, parseScimFilter, valuesNamedBy } from './scim.filter.js';
import { applyPatch, normalisePatch, type NormalisedOperation } from './scim.patch.js';
import {
  parseIntegerId,
  type Ref,
  type ScimPopulation,
  type UserChange,
} from './scim.population.js';
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
  deleteConnection,
  existingUserIds,
  findConnection,
  findScimGroup,
  findScimUser,
  findScimUserByUserNameKey,
  planScimUserByUserNameKey,
  insertConnection,
  insertScimAuditEvent,
  insertScimAuditEventWith,
  insertScimGroup,
  insertScimUserStatement,
  listConnections,
  listScimGroups,
  listScimUsers,
  touchConnectionStatement,
  touchScimGroupStatement,
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
/** How close to the second a connection's `last_sync_at` is kept (touch). */
const LAST_SYNC_RESOLUTION_MS = 1_000;
const MAX_GROUP_NAME = 200;
/** A collaborator connection without a default role gives new users this legacy role. */
const DEFAULT_COLLABORATOR_ROLE = 'Analyst';

export function createScimService(deps: {
  db: Db;
  clock: Clock;
  dialect: Dialect;
  publicUrl: string;
  /** The change feed (audit/change-feed.ts): how other instances' rotations reach the cache. */
  changes: ChangeSubscriptions;
}) {
  const now = () => isoNow(deps.clock);
  const connections = new ScimConnectionCache();
  deps.changes.subscribe((events) => {
    connections.evictChanged(events);
  });
  const publicUrl = deps.publicUrl.replace(/\/+$/, '');
  const baseUrlOf = (connectionId: string) => `${publicUrl}/scim/v2/${connectionId}`;
  const actorOf = (connection: ScimConnectionRow) => ({ id: connection.id, name: connection.name });
  const populations = {
    end_users: endUserPopulation({ dialect: deps.dialect, now }),
    collaborators: collaboratorPopulation({ dialect: deps.dialect, now }),
  };
  const populationOf = (connection: ScimConnectionRow): ScimPopulation =>
    connection.target === 'collaborators' ? populations.collaborators : populations.end_users;

  async function presentConnection(
    db: Executor,
    workspaceId: number,
    id: string,
  ): Promise<ScimConnection> {
    const row = (await listConnections(db, workspaceId)).find((c) => c.id === id);
    if (row === undefined) throw notFound('scim_connection.not_found', 'SCIM connection not found');
    const collaborators = row.target === 'collaborators';
    return {
      id: row.id,
      name: row.name,
      environment_type: row.environment_type,
      target: row.target as ScimConnection['target'],
      default_role: collaborators ? row.default_role_name : null,
      default_role_type: !collaborators
        ? null
        : row.default_role_type === 'environment'
          ? 'environment'
          : 'privilege_group',
      base_url: baseUrlOf(row.id),
      token_prefix: row.token_prefix,
      created_at: row.created_at,
      rotated_at: row.rotated_at,
      last_sync_at: row.last_sync_at,
      users_count: Number(row.users_count ?? 0),
      groups_count: Number(row.groups_count ?? 0),
    };
  }

  /**
   * Who may manage a connection of this target in this environment: its environment for
   * `end_users`; full workspace access for `collaborators` (reads need the environment only).
   */
  async function requireConnectionAccess(
    ctx: RequestContext,
    target: string,
    environmentType: string,
    manage: boolean,
  ) {
    requireCollaboratorActor(ctx);
    if (manage && target === 'collaborators') {
      const environments = await listEnvironments(deps.db, ctx.workspaceId);
      requireWorkspaceAdmin(
        ctx,
        environments.map((env) => env.type),
      );
    }
    requireEnvironmentAccess(ctx, environmentType);
  }

  async function requireConnection(ctx: RequestContext, id: string, manage: boolean) {
    requireCollaboratorActor(ctx);
    const row = await findConnection(deps.db, id);
    if (row === undefined || row.workspace_id !== ctx.workspaceId)
      throw notFound('scim_connection.not_found', 'SCIM connection not found');
    const environment = await deps.db
      .selectFrom('environments')
      .select('type')
      .where('id', '=', row.environment_id)
      .executeTakeFirstOrThrow();
    await requireConnectionAccess(ctx, row.target, environment.type, manage);
    return { row, environmentType: environment.type };
  }

  /**
   * A collaborator connection's default role, validated as `env_roles` are (a legacy role by
   * default, or a custom environment role), with the same "Role X not found" text.
   */
  async function resolveDefaultRole(
    db: Executor,
    workspaceId: number,
    environmentType: string,
    name: string,
    roleType: 'privilege_group' | 'environment' | undefined,
  ) {
    const [resolved] = await resolveEnvRoles(db, workspaceId, [
      {
        environment_type: environmentType,
        name,
        ...(roleType === undefined ? {} : { role_type: roleType }),
      },
    ]);
    if (resolved === undefined) throw new Error('resolveEnvRoles answered nothing');
    return {
      default_role: resolved.roleName,
      default_role_type: resolved.roleType,
      default_legacy_role_id: resolved.legacyRoleId,
      default_environment_role_id: resolved.environmentRoleId,
    };
  }

  function refuseDefaultRoleFor(
    target: string,
    body: { default_role?: string; default_role_type?: string },
  ) {
    if (
      target !== 'collaborators' &&
      (body.default_role !== undefined || body.default_role_type !== undefined)
    ) {
      throw badRequest(
        'scim_connection.default_role',
        'default_role applies to collaborator connections only',
      );
    }
  }

  const tokenPrefix = (token: string) => token.slice(0, 12);

  // ---- rendering ----------------------------------------------------------------------------

  const meta = (
    connection: ScimConnectionRow,
    kind: 'Users' | 'Groups',
    row: ScimUserRow | ScimGroupRow,
    id: string,
  ) => ({
    created: row.created_at,
    lastModified: row.updated_at,
    version: row.version,
    location: `${baseUrlOf(connection.id)}/${kind}/${id}`,
  });
  const refOf = (connection: ScimConnectionRow, kind: 'Users' | 'Groups', ref: Ref) => ({
    value: ref.id,
    display: ref.display,
    $ref: `${baseUrlOf(connection.id)}/${kind}/${ref.id}`,
  });

  const userIdOf = (row: ScimUserRow) => String(row.end_user_id ?? row.member_id ?? '');
  const personIdOf = (row: ScimUserRow) => row.end_user_id ?? row.member_id;
  const groupIdOf = (row: ScimGroupRow) =>
    String(row.end_user_group_id ?? row.collaborator_group_id ?? '');

  function userResource(connection: ScimConnectionRow, row: ScimUserRow, groups: Ref[]) {
    const id = userIdOf(row);
    return renderUser(
      id,
      {
        userName: row.user_name,
        externalId: row.external_id,
        active: row.active_assigned === 1 ? row.active === 1 : undefined,
        rest: fromJson<JsonObject>(row.resource),
      },
      groups.map((g) => refOf(connection, 'Groups', g)),
      meta(connection, 'Users', row, id),
    );
  }

  /**
   * `knownGroups`: the user's groups when the caller knows them without a read (a person the
   * request has just created is in none: one statement fewer per SCIM user created).
   */
  async function loadUserResource(
    db: Executor,
    connection: ScimConnectionRow,
    row: ScimUserRow,
    knownGroups?: Ref[],
  ) {
    const personId = personIdOf(row);
    const groups =
      knownGroups ??
      (personId === null
        ? []
        : ((await populationOf(connection).groupsOfUsers(db, connection, [personId])).get(
            personId,
          ) ?? []));
    return userResource(connection, row, groups);
  }

  async function groupResource(
    db: Executor,
    connection: ScimConnectionRow,
    row: ScimGroupRow,
    withMembers: boolean,
  ) {
    const id = groupIdOf(row);
    const members = withMembers
      ? (await populationOf(connection).membersOf(db, connection, id)).map((m) =>
          refOf(connection, 'Users', m),
        )
      : null;
    return renderGroup(
      id,
      { displayName: row.display_name, externalId: row.external_id },
      members,
      meta(connection, 'Groups', row, id),
    );
  }

  // ---- lookups --------------------------------------------------------------------------------

  async function requireUser(
    db: Executor,
    connection: ScimConnectionRow,
    rawId: string,
    lock = false,
  ): Promise<ScimUserRow & { personId: number }> {
    const id = parseIntegerId(rawId);
    const row =
      id === undefined
        ? undefined
        : await findScimUser(
            db,
            connection.id,
            populationOf(connection).userColumn,
            id,
            deps.dialect,
            lock,
          );
    const personId = row === undefined ? null : personIdOf(row);
    if (row === undefined || personId === null) throw scimNotFound(`User ${rawId} not found`);
    return { ...row, personId };
  }

  async function requireGroup(
    db: Executor,
    connection: ScimConnectionRow,
    rawId: string,
    lock = false,
  ): Promise<ScimGroupRow & { groupId: string }> {
    const population = populationOf(connection);
    const id = population.parseGroupId(rawId);
    const row =
      id === undefined
        ? undefined
        : await findScimGroup(db, connection.id, population.groupColumn, id, deps.dialect, lock);
    if (row === undefined || groupIdOf(row) === '') throw scimNotFound(`Group ${rawId} not found`);
    return { ...row, groupId: groupIdOf(row) };
  }

  function checkVersion(ifMatch: string | undefined, version: number) {
    if (!ifMatchSatisfied(ifMatch, version)) {
      throw new ScimError(
        412,
        `The resource changed: its version is W/"${version}", not ${ifMatch ?? ''}`,
      );
    }
  }

  /**
   * `last_sync_at`, to the second: a write within a second of the one the connection's row (read
   * when the request authenticated) already records sends no UPDATE. Each was a statement and a
   * lock on the connection's row for every SCIM write, which a directory's burst serialized on.
   */
  async function touch(db: Executor, connection: ScimConnectionRow) {
    const touching = touchStatement(db, connection);
    if (touching === undefined) return;
    await db.executeQuery(touching.statement);
    await touched(db, connection, touching.at);
  }

  /** touch's UPDATE, to send with the write it dates (then `touched`); none within the second. */
  function touchStatement(db: Executor, connection: ScimConnectionRow) {
    const at = now();
    const last = connection.last_sync_at === null ? NaN : Date.parse(connection.last_sync_at);
    const elapsed = Date.parse(at) - last;
    if (elapsed >= 0 && elapsed < LAST_SYNC_RESOLUTION_MS) return undefined;
    return { at, statement: touchConnectionStatement(db, connection.id, at) };
  }

  function touched(db: Executor, connection: ScimConnectionRow, at: string) {
    // The row may be the cached one (authenticate): the next write within the second sends no
    // UPDATE either. Only this field changes in place; every other change evicts the row. Once
    // committed: a rolled-back UPDATE must not stop the next write's.
    return afterCommit(db, () => {
      connection.last_sync_at = at;
    });
  }

  /** A SCIM event's entry: the connection acts, in its workspace, now. */
  function eventOf(
    connection: ScimConnectionRow,
    /** The request's (lib/change-tracking.ts): its answer waits for the index to see the event. */
    changes: ChangeTracker | undefined,
    entry: {
      action: string;
      targetType: ChangeTargetType;
      targetId: string | number;
      before?: unknown;
      after?: unknown;
    },
  ) {
    return {
      changes,
      workspaceId: connection.workspace_id,
      actor: actorOf(connection),
      createdAt: now(),
      ...entry,
    };
  }

  function audit(
    trx: Executor,
    connection: ScimConnectionRow,
    changes: ChangeTracker | undefined,
    entry: Parameters<typeof eventOf>[2],
  ) {
    return insertScimAuditEvent(trx, eventOf(connection, changes, entry));
  }

  function pageOf(query: ListQuery) {
    // RFC 7644 §3.4.2.4: below 1 means 1; past the end is an empty page, so a start beyond any
    // row count is clamped rather than handed to the database as an out-of-range offset.
    const startIndex = Math.min(Math.max(1, Math.floor(query.startIndex ?? 1)), ID_MAX);
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
      active_assigned: toFlag(fields.activeAssigned),
      resource: toJson(fields.rest),
    };
  }

  const savedRoleColumn = (change: UserChange) =>
    change.savedRole === undefined ? {} : { saved_role: change.savedRole };

  /** PUT and PATCH: the new SCIM user, applied to the person, audited, in the caller's transaction. */
  async function writeUser(
    trx: Executor,
    connection: ScimConnectionRow,
    existing: ScimUserRow & { personId: number },
    fields: UserFields,
    via: Record<string, unknown>,
    changes: ChangeTracker | undefined,
  ) {
    const population = populationOf(connection);
    const key = fields.userName.toLowerCase();
    if (key !== existing.user_name_key) {
      const clash = await findScimUserByUserNameKey(trx, connection.id, key);
      if (clash !== undefined && clash.id !== existing.id)
        throw new ScimError(409, `userName ${fields.userName} is already taken`, 'uniqueness');
    }
    const change = await population.syncUser(trx, connection, existing, existing.personId, fields);
    await updateScimUser(trx, existing.id, {
      ...userColumns(fields),
      ...savedRoleColumn(change),
      version: existing.version + 1,
      updated_at: now(),
    });
    await touch(trx, connection);
    const deactivated = existing.active === 1 && !fields.active;
    const reactivated = existing.active === 0 && fields.active;
    const prefix = population.userTarget;
    await audit(trx, connection, changes, {
      action: deactivated
        ? `${prefix}.deactivated`
        : reactivated
          ? `${prefix}.reactivated`
          : `${prefix}.updated`,
      targetType: prefix,
      targetId: existing.personId,
      before: {
        user_name: existing.user_name,
        active: existing.active === 1,
        external_id: existing.external_id,
      },
      after: {
        user_name: fields.userName,
        active: fields.active,
        ...change.details,
        ...via,
      },
    });
    return requireUser(trx, connection, String(existing.personId));
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
              ? parseIntegerId(raw.trim())
              : typeof raw === 'number'
                ? raw
                : undefined;
          return id === undefined ? [] : [id];
        }),
      ),
    ];
    if (ids.length === 0) return [];
    const known = await existingUserIds(
      db,
      connection.id,
      populationOf(connection).userColumn,
      ids,
    );
    return ids.filter((id) => known.has(id));
  }

  /** The drift rule: a full membership sync makes the group exactly what the identity provider says. */
  async function setMembers(
    trx: Executor,
    connection: ScimConnectionRow,
    groupId: string,
    ids: number[],
  ) {
    const population = populationOf(connection);
    const current = await population.currentMemberIds(trx, groupId);
    const wanted = new Set(ids);
    const removed = current.filter((id) => !wanted.has(id));
    await population.removeMembers(trx, groupId, removed);
    await population.addMembers(trx, connection, groupId, ids);
    const before = new Set(current);
    return { added: ids.filter((id) => !before.has(id)), removed };
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
    group: ScimGroupRow & { groupId: string },
    name: string,
    externalId: string | null,
  ) {
    if (name !== group.display_name)
      await populationOf(connection).renameGroup(trx, connection, group.groupId, name);
    return updateScimGroup(trx, group.id, {
      display_name: name,
      external_id: externalId,
      updated_at: now(),
    });
  }

  function groupBody(body: unknown) {
    if (!isObject(body)) throw scimBadRequest('invalidSyntax', 'The body must be a Group object');
    const resource = canonicalResource('Group', body);
    return {
      name: groupName(resource.displayName),
      externalId: typeof resource.externalId === 'string' ? resource.externalId : null,
      members: Array.isArray(resource.members) ? resource.members : [],
    };
  }

  /** The values a member operation names: a list, one value, or none. */
  const valuesOf = (operation: NormalisedOperation): unknown[] =>
    Array.isArray(operation.value)
      ? operation.value
      : operation.value === undefined
        ? []
        : [operation.value];

  const service = {
    // ---- connections (workspace API) --------------------------------------------------------

    async createConnection(
      ctx: RequestContext,
      body: CreateScimConnectionBody,
    ): Promise<ScimConnectionWithToken> {
      const environment = await requireEnvironment(deps.db, ctx.workspaceId, body.environment_type);
      await requireConnectionAccess(ctx, body.target, environment.type, true);
      refuseDefaultRoleFor(body.target, body);
      const id = `scim_${newSecret('c')
        .slice(2, 22)
        .replace(/[^A-Za-z0-9]/g, 'x')}`;
      const token = newSecret('rscim');
      const collaborators = body.target === 'collaborators';
      const name =
        body.name?.trim() ||
        `SCIM ${environment.type} ${collaborators ? 'collaborators' : 'end users'}`;
      await deps.db.transaction().execute(async (trx) => {
        const role = collaborators
          ? await resolveDefaultRole(
              trx,
              ctx.workspaceId,
              environment.type,
              body.default_role ?? DEFAULT_COLLABORATOR_ROLE,
              body.default_role_type,
            )
          : {
              default_role: null,
              default_role_type: null,
              default_legacy_role_id: null,
              default_environment_role_id: null,
            };
        await insertConnection(trx, {
          id,
          workspace_id: ctx.workspaceId,
          environment_id: environment.id,
          target: body.target,
          name,
          ...role,
          token_hash: hashSecret(token),
          token_prefix: tokenPrefix(token),
          created_at: now(),
          rotated_at: null,
          last_sync_at: null,
        });
        await recordChange(trx, ctx, now(), 'scim_connection.created', ['scim_connection', id], {
          after: {
            name,
            environment_type: environment.type,
            target: body.target,
            ...(collaborators
              ? { default_role: role.default_role, default_role_type: role.default_role_type }
              : {}),
          },
        });
      });
      return { ...(await presentConnection(deps.db, ctx.workspaceId, id)), token };
    },

    async listConnections(ctx: RequestContext): Promise<ScimConnection[]> {
      requireCollaboratorActor(ctx);
      const rows = await listConnections(deps.db, ctx.workspaceId);
      const visible = rows.filter((r) => ctx.scope.environmentTypes.has(r.environment_type));
      return Promise.all(visible.map((r) => presentConnection(deps.db, ctx.workspaceId, r.id)));
    },

    async getConnection(ctx: RequestContext, id: string): Promise<ScimConnection> {
      await requireConnection(ctx, id, false);
      return presentConnection(deps.db, ctx.workspaceId, id);
    },

    /** Renames, or sets the default role of users a collaborator connection creates from now on. */
    async updateConnection(
      ctx: RequestContext,
      id: string,
      body: UpdateScimConnectionBody,
    ): Promise<ScimConnection> {
      const { row, environmentType } = await requireConnection(ctx, id, true);
      refuseDefaultRoleFor(row.target, body);
      if (body.default_role === undefined && body.default_role_type !== undefined)
        throw badRequest('scim_connection.default_role', 'default_role_type needs default_role');
      const name = body.name?.trim() || row.name;
      // Evicted before and after the write: a lookup racing the transaction cannot refill the cache.
      connections.evict(id);
      await deps.db.transaction().execute(async (trx) => {
        const role =
          body.default_role === undefined
            ? {}
            : await resolveDefaultRole(
                trx,
                ctx.workspaceId,
                environmentType,
                body.default_role,
                body.default_role_type,
              );
        await updateConnection(trx, id, { name, ...role });
        await recordChange(trx, ctx, now(), 'scim_connection.updated', ['scim_connection', id], {
          before: { name: row.name, default_role: row.default_role },
          after: { name, ...role },
        });
      });
      connections.evict(id);
      return presentConnection(deps.db, ctx.workspaceId, id);
    },

    /** A new token; the old one stops working at once. */
    async rotateToken(ctx: RequestContext, id: string): Promise<ScimConnectionWithToken> {
      await requireConnection(ctx, id, true);
      const token = newSecret('rscim');
      connections.evict(id);
      await deps.db.transaction().execute(async (trx) => {
        await updateConnection(trx, id, {
          token_hash: hashSecret(token),
          token_prefix: tokenPrefix(token),
          rotated_at: now(),
        });
        await recordChange(trx, ctx, now(), 'scim_connection.token_rotated', [
          'scim_connection',
          id,
        ]);
      });
      connections.evict(id);
      return { ...(await presentConnection(deps.db, ctx.workspaceId, id)), token };
    },

    /** Stops provisioning; the users and groups it created stay (now managed by hand). */
    async deleteConnection(ctx: RequestContext, id: string): Promise<void> {
      const { row } = await requireConnection(ctx, id, true);
      connections.evict(id);
      await deps.db.transaction().execute(async (trx) => {
        await populationOf(row).releaseGroups(trx, id);
        await deleteConnection(trx, id);
        await recordChange(trx, ctx, now(), 'scim_connection.deleted', ['scim_connection', id], {
          before: { name: row.name, target: row.target },
        });
      });
      connections.evict(id);
    },

    /**
     * The SCIM endpoints' authentication: the connection's token, compared by hash in constant
     * time; a token that authenticated before is answered from the cache (scim.connection-cache.ts).
     */
    async authenticate(
      connectionId: string,
      token: string | undefined,
    ): Promise<ScimConnectionRow | undefined> {
      if (connectionId.length > 64) return undefined;
      const tokenHash = token === undefined ? undefined : hashSecret(token);
      if (tokenHash !== undefined) {
        const cached = connections.get(tokenHash, connectionId);
        if (cached !== undefined) return cached;
      }
      const generation = connections.begin();
      const row = await findConnection(deps.db, connectionId);
      if (row === undefined) {
        // Same work for unknown connections, so timing does not tell which IDs exist.
        secretMatches(token ?? '', hashSecret('unknown'));
        return undefined;
      }
      if (token === undefined || tokenHash === undefined || !secretMatches(token, row.token_hash))
        return undefined;
      connections.set(tokenHash, row, generation);
      return row;
    },

    baseUrlOf,

    // ---- Users ------------------------------------------------------------------------------

    async listUsers(connection: ScimConnectionRow, query: ListQuery) {
      const population = populationOf(connection);
      const page = pageOf(query);
      const where =
        query.filter === undefined || query.filter.trim() === ''
          ? undefined
          : compileFilter(population.userFilter, parseScimFilter(query.filter));
      const { rows, total } = await listScimUsers(
        deps.db,
        connection.id,
        where,
        page.offset,
        page.count,
      );
      const groups = wantsAttribute('User', 'groups', query.attributes, query.excludedAttributes)
        ? await population.groupsOfUsers(
            deps.db,
            connection,
            rows.flatMap((r) => {
              const personId = personIdOf(r);
              return personId === null ? [] : [personId];
            }),
          )
        : new Map<number, Ref[]>();
      const resources = rows.map((row) =>
        project(
          'User',
          userResource(connection, row, groups.get(personIdOf(row) ?? -1) ?? []),
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

    async createUser(
      connection: ScimConnectionRow,
      body: unknown,
      changes?: ChangeTracker,
    ): Promise<WriteResult> {
      if (!isObject(body)) throw scimBadRequest('invalidSyntax', 'The body must be a User object');
      // Created without `active`, a user is active and shows it (the server's default).
      const fields = { ...userFields(canonicalResource('User', body)), activeAssigned: true };
      const key = fields.userName.toLowerCase();
      const population = populationOf(connection);
      return deps.db.transaction().execute(async (trx) => {
        // The connection's user by userName and the person by email, in one round trip; a taken
        // userName is refused first, as when the lookups ran in turn.
        const [, provision] = await readTogether(trx, [
          mapRead(planScimUserByUserNameKey(trx, connection.id, key), (taken) => {
            if (taken !== undefined)
              throw new ScimError(
                409,
                `A user with userName ${fields.userName} already exists`,
                'uniqueness',
              );
          }),
          population.planProvisionUser(trx, connection, fields),
        ]);
        const change = await provision();
        const prefix = population.userTarget;
        // The SCIM user, the connection's last sync, the person's writes left (an end user's
        // environment access) and the event in one round trip.
        const touching = touchStatement(trx, connection);
        const [inserted] = await insertScimAuditEventWith(
          trx,
          [
            insertScimUserStatement(trx, {
              workspace_id: connection.workspace_id,
              connection_id: connection.id,
              end_user_id: population.userColumn === 'end_user_id' ? change.personId : null,
              member_id: population.userColumn === 'member_id' ? change.personId : null,
              ...userColumns(fields),
              saved_role: change.savedRole ?? null,
              version: 1,
              created_at: now(),
              updated_at: now(),
            }),
            ...(touching === undefined ? [] : [touching.statement]),
            ...change.rest,
          ],
          eventOf(connection, changes, {
            action: change.adopted ? `${prefix}.scim_linked` : `${prefix}.created`,
            targetType: prefix,
            targetId: change.personId,
            after: {
              ...change.details,
              active: fields.active,
              external_id: fields.externalId,
            },
          }),
        );
        if (touching !== undefined) await touched(trx, connection, touching.at);
        const row = inserted.rows[0];
        if (row === undefined) throw new Error('the SCIM user insert returned no row');
        // A person created by this request is in no group yet; an adopted one may be.
        const groups = change.adopted ? undefined : [];
        return {
          resource: await loadUserResource(trx, connection, row, groups),
          version: row.version,
        };
      });
    },

    async replaceUser(
      connection: ScimConnectionRow,
      id: string,
      body: unknown,
      ifMatch: string | undefined,
      changes?: ChangeTracker,
    ): Promise<WriteResult> {
      if (!isObject(body)) throw scimBadRequest('invalidSyntax', 'The body must be a User object');
      // PUT replaces what is given; `active` left out means active (RFC 7643 gives no default, Okta sends it).
      const fields = { ...userFields(canonicalResource('User', body)), activeAssigned: true };
      return deps.db.transaction().execute(async (trx) => {
        const existing = await requireUser(trx, connection, id, true);
        checkVersion(ifMatch, existing.version);
        const row = await writeUser(
          trx,
          connection,
          existing,
          fields,
          { via: 'scim.replaced' },
          changes,
        );
        return { resource: await loadUserResource(trx, connection, row), version: row.version };
      });
    },

    /** `render: false` skips building the answer (PATCH answers 204 unless attributes are asked). */
    async patchUser(
      connection: ScimConnectionRow,
      id: string,
      body: unknown,
      ifMatch: string | undefined,
      render = true,
      changes?: ChangeTracker,
    ): Promise<WriteResult> {
      const operations = normalisePatch('User', body);
      // Read, patch and write under the row lock (PostgreSQL) or the single writer (SQLite).
      return deps.db.transaction().execute(async (trx) => {
        const existing = await requireUser(trx, connection, id, true);
        checkVersion(ifMatch, existing.version);
        const current: JsonObject = {
          userName: existing.user_name,
          ...(existing.external_id === null ? {} : { externalId: existing.external_id }),
          ...(existing.active_assigned === 1 ? { active: existing.active === 1 } : {}),
          ...fromJson<JsonObject>(existing.resource),
        };
        const fields = userFields(canonicalResource('User', applyPatch(current, operations)));
        const row = await writeUser(
          trx,
          connection,
          existing,
          fields,
          { via: 'scim.patched', operations: operations.map((o) => ({ op: o.op, path: o.path })) },
          changes,
        );
        return {
          resource: render ? await loadUserResource(trx, connection, row) : {},
          version: row.version,
        };
      });
    },

    /**
     * Removes the person and their grants. A person also provisioned by another connection keeps
     * existing: only this connection's environment (and its groups there) go.
     */
    async deleteUser(
      connection: ScimConnectionRow,
      id: string,
      ifMatch: string | undefined,
      changes?: ChangeTracker,
    ): Promise<void> {
      const population = populationOf(connection);
      await deps.db.transaction().execute(async (trx) => {
        const existing = await requireUser(trx, connection, id, true);
        checkVersion(ifMatch, existing.version);
        const { deleted } = await population.deprovisionUser(
          trx,
          connection,
          existing,
          existing.personId,
        );
        await touch(trx, connection);
        const prefix = population.userTarget;
        await audit(trx, connection, changes, {
          action: deleted ? `${prefix}.deleted` : `${prefix}.environment_revoked`,
          targetType: prefix,
          targetId: existing.personId,
          before: { user_name: existing.user_name, external_id: existing.external_id },
        });
      });
    },

    // ---- Groups -----------------------------------------------------------------------------

    async listGroups(connection: ScimConnectionRow, query: ListQuery) {
      const page = pageOf(query);
      const where =
        query.filter === undefined || query.filter.trim() === ''
          ? undefined
          : compileFilter(populationOf(connection).groupFilter, parseScimFilter(query.filter));
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

    async createGroup(
      connection: ScimConnectionRow,
      body: unknown,
      changes?: ChangeTracker,
    ): Promise<WriteResult> {
      const { name, externalId, members } = groupBody(body);
      const population = populationOf(connection);
      return deps.db.transaction().execute(async (trx) => {
        // A group of the same name that no connection manages is adopted (docs/scim.md).
        const { groupId, adopted } = await population.createGroup(trx, connection, name);
        const row = await insertScimGroup(trx, {
          workspace_id: connection.workspace_id,
          connection_id: connection.id,
          end_user_group_id:
            population.groupColumn === 'end_user_group_id' ? Number(groupId) : null,
          collaborator_group_id:
            population.groupColumn === 'collaborator_group_id' ? groupId : null,
          display_name: name,
          external_id: externalId,
          version: 1,
          created_at: now(),
          updated_at: now(),
        });
        const ids = await knownMemberIds(trx, connection, members);
        const change = adopted
          ? await setMembers(trx, connection, groupId, ids)
          : (await population.addMembers(trx, connection, groupId, ids),
            { added: ids, removed: [] as number[] });
        await touch(trx, connection);
        await audit(trx, connection, changes, {
          action: `${population.groupTarget}.${adopted ? 'scim_linked' : 'created'}`,
          targetType: population.groupTarget,
          targetId: groupId,
          after: {
            name,
            managed_by: 'external',
            external_id: externalId,
            members_added: change.added,
            members_removed: change.removed,
          },
        });
        return {
          resource: await groupResource(trx, connection, row, true),
          version: row.version,
        };
      });
    },

    async replaceGroup(
      connection: ScimConnectionRow,
      id: string,
      body: unknown,
      ifMatch: string | undefined,
      changes?: ChangeTracker,
    ): Promise<WriteResult> {
      const { name, externalId, members } = groupBody(body);
      const population = populationOf(connection);
      return deps.db.transaction().execute(async (trx) => {
        const group = await requireGroup(trx, connection, id, true);
        checkVersion(ifMatch, group.version);
        await renameGroup(trx, connection, group, name, externalId);
        const change = await setMembers(
          trx,
          connection,
          group.groupId,
          await knownMemberIds(trx, connection, members),
        );
        await touch(trx, connection);
        await audit(trx, connection, changes, {
          action: `${population.groupTarget}.updated`,
          targetType: population.groupTarget,
          targetId: group.groupId,
          before: { name: group.display_name },
          after: {
            name,
            external_id: externalId,
            members_added: change.added,
            members_removed: change.removed,
            via: 'scim.replaced',
          },
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
      changes?: ChangeTracker,
    ): Promise<WriteResult> {
      const operations = normalisePatch('Group', body);
      const population = populationOf(connection);
      return deps.db.transaction().execute(async (trx) => {
        const group = await requireGroup(trx, connection, id, true);
        checkVersion(ifMatch, group.version);
        const groupId = group.groupId;
        const added: number[] = [];
        const removed: number[] = [];
        const attributeOps: NormalisedOperation[] = [];
        for (const operation of operations) {
          if (operation.resolved.def.name !== 'members') {
            attributeOps.push(operation);
            continue;
          }
          const values = valuesOf(operation);
          if (operation.op === 'add') {
            const ids = await knownMemberIds(trx, connection, values);
            await population.addMembers(trx, connection, groupId, ids);
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
          } else if (operation.filter !== undefined) {
            // members[value eq "…"] (or any filter on members): test it on the members it can
            // match. A filter naming its values (`eq`, joined by `or`/`and`) can only match those
            // IDs, so only they are looked up; any other filter is tested on the whole group.
            const test = filterTester(operation.filter);
            const named = valuesNamedBy(operation.filter, 'value');
            const candidates =
              named === undefined
                ? await population.currentMemberIds(trx, groupId)
                : named.flatMap((raw) => {
                    const id = /^\d+$/.test(raw) ? Number(raw) : NaN;
                    return Number.isSafeInteger(id) ? [id] : [];
                  });
            const ids = candidates.filter((memberId) =>
              test({ value: String(memberId), type: 'User' }),
            );
            removed.push(...(await population.removeMembers(trx, groupId, ids)));
          } else if (values.length > 0) {
            // As for add: only this connection's users, and of them only those who were members
            // (what the delete removed), so the audit event records what was removed rather than
            // what was asked.
            const ids = await knownMemberIds(trx, connection, values);
            removed.push(...(await population.removeMembers(trx, groupId, ids)));
          } else {
            // Removing all members changes the whole group: this one reads it.
            const current = await population.currentMemberIds(trx, groupId);
            removed.push(...(await population.removeMembers(trx, groupId, current)));
          }
        }
        const only = attributeOps.length === 0;
        const event = (name: string) =>
          eventOf(connection, changes, {
            action: `${population.groupTarget}.${
              added.length > 0 && removed.length === 0 && only
                ? 'members_added'
                : removed.length > 0 && added.length === 0 && only
                  ? 'members_removed'
                  : 'updated'
            }`,
            targetType: population.groupTarget,
            targetId: groupId,
            before: { name: group.display_name },
            after: { name, members_added: added, members_removed: removed, via: 'scim.patched' },
          });
        let updated: ScimGroupRow;
        if (only) {
          // Members only: the group's new version, the connection's last sync and the event need
          // nothing from each other, so they go in one round trip.
          const touching = touchStatement(trx, connection);
          const [bumped] = await insertScimAuditEventWith(
            trx,
            [
              touchScimGroupStatement(trx, group.id, now()),
              ...(touching === undefined ? [] : [touching.statement]),
            ],
            event(group.display_name),
          );
          if (touching !== undefined) await touched(trx, connection, touching.at);
          const row = bumped.rows[0];
          // The group was read (and on PostgreSQL locked) in this transaction: none is a defect.
          if (row === undefined) throw new Error(`SCIM group ${group.id} not found for update`);
          updated = row;
        } else {
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
          const name = groupName(patched.displayName);
          const externalId = typeof patched.externalId === 'string' ? patched.externalId : null;
          updated = await renameGroup(trx, connection, group, name, externalId);
          await touch(trx, connection);
          await insertScimAuditEvent(trx, event(name));
        }
        // The group as the update left it (nothing after changes its row): not read again.
        const row = { ...updated, groupId: group.groupId };
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
      changes?: ChangeTracker,
    ): Promise<void> {
      const population = populationOf(connection);
      await deps.db.transaction().execute(async (trx) => {
        const group = await requireGroup(trx, connection, id, true);
        checkVersion(ifMatch, group.version);
        await population.deleteGroup(trx, group.groupId);
        await touch(trx, connection);
        await audit(trx, connection, changes, {
          action: `${population.groupTarget}.deleted`,
          targetType: population.groupTarget,
          targetId: group.groupId,
          before: { name: group.display_name, external_id: group.external_id },
        });
      });
    },

    projectUser: (resource: JsonObject, p: Projection) =>
      project('User', resource, p.attributes, p.excludedAttributes),
    projectGroup: (resource: JsonObject, p: Projection) =>
      project('Group', resource, p.attributes, p.excludedAttributes),
  };
  return {
    ...service,
    /**
     * `POST /.search` at the root (RFC 7644 §3.4.3): Users, then Groups, paged as one list. A
     * filter on an attribute only one type has (`userName`) matches nothing of the other type;
     * it is an error only when no type can evaluate it.
     */
    async searchAll(connection: ScimConnectionRow, query: ListQuery) {
      const page = pageOf(query);
      let skip = page.offset;
      let remaining = page.count;
      let total = 0;
      let failure: unknown;
      let evaluated = 0;
      const resources: JsonObject[] = [];
      const lists = [
        (q: ListQuery) => service.listUsers(connection, q),
        (q: ListQuery) => service.listGroups(connection, q),
      ];
      for (const list of lists) {
        let answer: Awaited<ReturnType<typeof list>>;
        try {
          answer = await list({ ...query, startIndex: skip + 1, count: remaining });
        } catch (error) {
          if (!(error instanceof ScimError) || error.scimType !== 'invalidFilter') throw error;
          failure ??= error;
          continue;
        }
        evaluated += 1;
        total += answer.totalResults;
        resources.push(...answer.Resources);
        remaining -= answer.Resources.length;
        skip = Math.max(0, skip - answer.totalResults);
      }
      if (evaluated === 0) throw failure;
      return listResponse(resources, total, page.startIndex);
    },
  };
}
export type ScimService = ReturnType<typeof createScimService>;
