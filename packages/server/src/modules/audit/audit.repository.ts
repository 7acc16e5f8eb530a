import {
  PostgresAdapter,
  sql,
  type CompiledQuery,
  type QueryResult,
  type RawBuilder,
} from 'kysely';
import type { ListAuditEventsQuery } from '@roster/contracts';
import type { Database, Executor, Row } from '../../storage/database.js';
import { toJson } from '../../storage/json.js';
import { afterCommit } from '../../storage/commit-hooks.js';
import { runTogether } from '../../storage/pipeline.js';
import { prepared } from '../../storage/prepared.js';
import type { PageRequest } from '../../lib/pagination.js';
import type { Actor } from '../../lib/context.js';
import {
  noteChangeRecorded,
  type ChangeTracker,
  type RecordedChange,
} from '../../lib/change-tracking.js';
import type { ChangeTargetType } from './change-kinds.js';
import { enqueueWebhookDeliveries } from './webhook-outbox.js';
import { whereVisible, type AuditVisibility } from './audit-visibility.js';

export interface AuditEntry {
  workspaceId: number;
  /** A SCIM connection acts only through its own endpoints, so it is not a request Actor. */
  actor: Pick<Actor, 'id' | 'name'> & { type: Actor['type'] | 'scim_connection' };
  action: string;
  /** One of the kinds the change feed's subscribers know (change-kinds.ts): checked at compile time. */
  targetType: ChangeTargetType;
  targetId: string | number | null;
  /**
   * What the target is called now. Optional: otherwise it is taken from the event's `after` (or
   * `before`) snapshot, or read from the target's row in the same transaction.
   */
  targetName?: string | null;
  before?: unknown;
  after?: unknown;
  createdAt: string;
  /**
   * A forwarded end-user decision's name (modules/cluster/routing.ts): an event with a name
   * already recorded is not recorded again.
   */
  decisionId?: string;
  /**
   * The tracker of the request the event is recorded for (lib/change-tracking.ts); null: no
   * request (background work); undefined: not said, which marks every tracked request open.
   */
  changes?: ChangeTracker | null;
}

/** Tables with `id`, `workspace_id` and `name`. */
type NamedTable = keyof Pick<
  Database,
  | 'end_users'
  | 'end_user_groups'
  | 'features'
  | 'policies'
  | 'members'
  | 'member_invitations'
  | 'projects'
  | 'api_clients'
  | 'collaborator_groups'
  | 'scim_connections'
>;

/** Where a target's name lives, for the targets whose events carry no name in their snapshot. */
const NAMED_TARGETS: Readonly<
  Partial<Record<ChangeTargetType, { table: NamedTable; numericId: boolean }>>
> = {
  end_user: { table: 'end_users', numericId: true },
  end_user_group: { table: 'end_user_groups', numericId: true },
  feature: { table: 'features', numericId: true },
  policy: { table: 'policies', numericId: true },
  member: { table: 'members', numericId: true },
  member_invitation: { table: 'member_invitations', numericId: true },
  project: { table: 'projects', numericId: true },
  api_client: { table: 'api_clients', numericId: true },
  user_group: { table: 'collaborator_groups', numericId: false },
  scim_connection: { table: 'scim_connections', numericId: false },
};

function nameInSnapshot(snapshot: unknown): string | undefined {
  if (typeof snapshot !== 'object' || snapshot === null) return undefined;
  const record = snapshot as Record<string, unknown>;
  for (const key of ['name', 'display_name', 'email']) {
    const value = record[key];
    if (typeof value === 'string' && value !== '') return value;
  }
  return undefined;
}

/**
 * The target's name at write time: given, in the snapshot after the change, on its row, or before.
 * The row is read by the insert itself (a subquery in its VALUES), not by a statement of its own:
 * one round trip to the database fewer per write. `table` names that row's table (the insert's
 * shape), `fallback` is the name when there is no such row.
 */
function targetNameOf(entry: AuditEntry): {
  table?: NamedTable;
  id: number | string | null;
  fallback: string | null;
} {
  if (entry.targetName !== undefined) return { id: null, fallback: entry.targetName };
  const fromAfter = nameInSnapshot(entry.after);
  if (fromAfter !== undefined) return { id: null, fallback: fromAfter };
  const fromBefore = nameInSnapshot(entry.before) ?? null;
  const source = NAMED_TARGETS[entry.targetType];
  if (source !== undefined && entry.targetId !== null) {
    const id = source.numericId ? Number(entry.targetId) : String(entry.targetId);
    // Every table listed has `id`, `workspace_id` and `name`.
    if (!source.numericId || Number.isSafeInteger(id))
      return { table: source.table, id, fallback: fromBefore };
  }
  return { id: null, fallback: fromBefore };
}

/** Tables with `id`, `workspace_id` and `environment_id`: a target that lives in one environment. */
type EnvironmentTable = keyof Pick<
  Database,
  'agents' | 'approval_requests' | 'end_user_groups' | 'features' | 'policies' | 'projects'
>;

/** Where a target's environment lives, for the targets that belong to one environment. */
const ENVIRONMENT_TARGETS: Readonly<Partial<Record<ChangeTargetType, EnvironmentTable>>> = {
  agent: 'agents',
  approval_request: 'approval_requests',
  end_user_group: 'end_user_groups',
  feature: 'features',
  policy: 'policies',
  project: 'projects',
};

/**
 * The targets that may belong to one environment. Every other kind (collaborators and their
 * invitations, collaborator groups, roles, API clients, SSO, SCIM connections, webhooks, the
 * workspace) is workspace-level whatever its snapshot names: an API client created for PROD
 * only is still the workspace's business.
 */
const ENVIRONMENT_SCOPED_TARGETS: ReadonlySet<ChangeTargetType> = new Set<ChangeTargetType>([
  'agent',
  'approval_request',
  'end_user',
  'end_user_group',
  'feature',
  'policy',
  'project',
  'project_grant',
]);

/** What a snapshot says of the environment and project it is about (the keys events use). */
function scopeInSnapshot(snapshot: unknown): {
  environmentType?: string;
  projectId?: number;
  featureId?: number;
} {
  if (typeof snapshot !== 'object' || snapshot === null) return {};
  const record = snapshot as Record<string, unknown>;
  const found: { environmentType?: string; projectId?: number; featureId?: number } = {};
  const types = record.environment_types;
  const environment = record.environment as { type?: unknown } | null | undefined;
  const project = record.project as
    { id?: unknown; environment?: { type?: unknown } | null } | null | undefined;
  const type: unknown =
    record.environment_type ??
    // An event about several environments (an end user created in DEV and PROD) has none.
    (Array.isArray(types) && types.length === 1 ? (types[0] as unknown) : undefined) ??
    (typeof environment === 'object' ? environment?.type : undefined) ??
    (typeof project === 'object' ? project?.environment?.type : undefined);
  if (typeof type === 'string' && type !== '') found.environmentType = type;
  const projectId = record.project_id ?? (typeof project === 'object' ? project?.id : undefined);
  if (typeof projectId === 'number' && Number.isSafeInteger(projectId)) found.projectId = projectId;
  if (typeof record.feature_id === 'number' && Number.isSafeInteger(record.feature_id))
    found.featureId = record.feature_id;
  return found;
}

/**
 * The environment type and project an event belongs to, derived once, when it is written (0029):
 * the audit log, its export and the change stream show a credential limited to some environments
 * or projects the events of those only (audit-visibility.ts). In order: the target's own row (a
 * feature, policy, end-user group, agent, approval request, project, or a project grant's project),
 * read by the insert itself like the target's name; else the `after` (or `before`) snapshot's
 * `environment_type` / `environment_types` (one) / `project`; else the environment of the feature
 * the snapshot names (a decision, a tool call). Anything else (the kinds outside
 * ENVIRONMENT_SCOPED_TARGETS, an end user of several environments, a row deleted with no
 * environment in its snapshot) is workspace-level: null, shown to full-scope credentials only.
 */
function eventScopeOf(entry: AuditEntry): EventScope {
  if (!ENVIRONMENT_SCOPED_TARGETS.has(entry.targetType))
    return { source: 'snapshot', id: null, environmentType: null, projectId: null };
  const fromAfter = scopeInSnapshot(entry.after);
  const fromBefore = scopeInSnapshot(entry.before);
  const snapshotType = fromAfter.environmentType ?? fromBefore.environmentType ?? null;
  const snapshotProject = fromAfter.projectId ?? fromBefore.projectId ?? null;
  const featureId = fromAfter.featureId ?? fromBefore.featureId;
  const numericId = entry.targetId === null ? NaN : Number(entry.targetId);
  const table = ENVIRONMENT_TARGETS[entry.targetType];
  if (table !== undefined && Number.isSafeInteger(numericId)) {
    return {
      source: table,
      id: numericId,
      environmentType: snapshotType,
      projectId: entry.targetType === 'project' ? numericId : snapshotProject,
    };
  }
  if (entry.targetType === 'project_grant' && entry.targetId !== null)
    return {
      source: 'project_grants',
      id: String(entry.targetId),
      environmentType: snapshotType,
      projectId: snapshotProject,
    };
  if (snapshotType === null && featureId !== undefined)
    return { source: 'feature', id: featureId, environmentType: null, projectId: snapshotProject };
  return {
    source: 'snapshot',
    id: null,
    environmentType: snapshotType,
    projectId: snapshotProject,
  };
}

/**
 * Where an event's scope is read from (see eventScopeOf): the target's row in `source` (with the
 * snapshot's values as the fallback), a project grant's project, the feature a snapshot names
 * (`id` is the feature's), or the snapshot alone.
 */
interface EventScope {
  source: EnvironmentTable | 'project_grants' | 'feature' | 'snapshot';
  id: number | string | null;
  environmentType: string | null;
  projectId: number | null;
}

/** The per-call values of the audit insert; its shape (AuditInsertShape) is in the SQL text. */
interface AuditInsertParams {
  workspaceId: number;
  actorType: string;
  actorId: string | null;
  actorName: string | null;
  action: string;
  targetType: string;
  targetId: string | null;
  nameId: number | string | null;
  name: string | null;
  scopeId: number | string | null;
  environmentType: string | null;
  projectId: number | null;
  before: string | null;
  after: string | null;
  createdAt: string;
  decisionId: string | null;
}

interface AuditInsertShape {
  nameTable: NamedTable | undefined;
  scope: EventScope['source'];
  decision: boolean;
}

/**
 * The event's name column: the value, or read from the target's row (see targetNameOf). The
 * values are markers when the audit insert is prepared, real values in insertLogEvents.
 */
function targetNameSql(
  nameTable: NamedTable | undefined,
  p: { workspaceId: unknown; nameId: unknown; name: unknown },
): RawBuilder<string | null> {
  return nameTable === undefined
    ? sql<string | null>`${p.name}`
    : sql<
        string | null
      >`coalesce((select name from ${sql.table(nameTable)} where workspace_id = ${p.workspaceId} and id = ${p.nameId}), ${p.name})`;
}

/** The event's scope columns (see eventScopeOf), values or markers as targetNameSql's. */
function scopeSql(
  scope: EventScope['source'],
  p: { workspaceId: unknown; scopeId: unknown; environmentType: unknown; projectId: unknown },
): { environment_type: RawBuilder<string | null>; project_id: RawBuilder<number | null> } {
  let environmentType = sql<string | null>`${p.environmentType}`;
  let projectId = sql<number | null>`${p.projectId}`;
  if (scope === 'project_grants') {
    environmentType = sql<
      string | null
    >`coalesce((select environments.type from project_grants join projects on projects.id = project_grants.project_id join environments on environments.id = projects.environment_id where project_grants.workspace_id = ${p.workspaceId} and project_grants.id = ${p.scopeId}), ${p.environmentType})`;
    projectId = sql<
      number | null
    >`coalesce((select project_id from project_grants where workspace_id = ${p.workspaceId} and id = ${p.scopeId}), ${p.projectId})`;
  } else if (scope === 'feature') {
    environmentType = sql<
      string | null
    >`(select environments.type from features join environments on environments.id = features.environment_id where features.workspace_id = ${p.workspaceId} and features.id = ${p.scopeId})`;
  } else if (scope !== 'snapshot') {
    environmentType = sql<string | null>`coalesce((select environments.type from ${sql.table(
      scope,
    )} as target join environments on environments.id = target.environment_id where target.workspace_id = ${p.workspaceId} and target.id = ${p.scopeId}), ${p.environmentType})`;
  }
  return { environment_type: environmentType, project_id: projectId };
}

/**
 * The audit insert, compiled once per shape (storage/prepared.ts): every write records an event,
 * and its SQL text depends only on where the name and scope are read from and whether it names a
 * decision.
 */
function prepareAuditInsert({ nameTable, scope, decision }: AuditInsertShape) {
  return prepared((db, p: AuditInsertParams) => {
    const targetName = targetNameSql(nameTable, p);
    const { environment_type: environmentType, project_id: projectId } = scopeSql(scope, p);
    return (
      db
        .insertInto('audit_events')
        .values({
          workspace_id: p.workspaceId,
          actor_type: p.actorType,
          actor_id: p.actorId,
          actor_name: p.actorName,
          action: p.action,
          target_type: p.targetType,
          target_id: p.targetId,
          target_name: targetName,
          environment_type: environmentType,
          project_id: projectId,
          before_json: p.before,
          after_json: p.after,
          created_at: p.createdAt,
          ...(decision ? { decision_id: p.decisionId } : {}),
        })
        .$if(decision, (insert) =>
          insert.onConflict((conflict) =>
            conflict.column('decision_id').where('decision_id', 'is not', null).doNothing(),
          ),
        )
        // Whether the workspace has an enabled webhook, asked by the insert too (a subquery in its
        // RETURNING): most have none, and then the write needs no statement for webhooks at all.
        .returning((eb) => [
          'id',
          eb
            .selectFrom('webhooks')
            .select(sql<number>`1`.as('one'))
            .where('workspace_id', '=', p.workspaceId)
            .where('enabled', '=', 1)
            .limit(1)
            .as('webhooks'),
        ])
    );
  });
}

const auditInserts = new Map<string, ReturnType<typeof prepareAuditInsert>>();

function auditInsertOf(shape: AuditInsertShape): ReturnType<typeof prepareAuditInsert> {
  const key = `${shape.nameTable ?? ''}|${shape.scope}|${shape.decision ? 'd' : ''}`;
  let insert = auditInserts.get(key);
  if (insert === undefined) {
    insert = prepareAuditInsert(shape);
    auditInserts.set(key, insert);
  }
  return insert;
}

/** An audit insert ready to send, and what its settling needs (insertAuditEvent). */
interface PreparedAuditInsert {
  readonly statement: CompiledQuery<{ id: number; webhooks: number | null }>;
  readonly change: Omit<RecordedChange, 'id'>;
}

function prepareAuditEvent(db: Executor, entry: AuditEntry): PreparedAuditInsert {
  const targetId = entry.targetId === null ? null : String(entry.targetId);
  const beforeJson = entry.before === undefined ? null : toJson(entry.before);
  const afterJson = entry.after === undefined ? null : toJson(entry.after);
  const name = targetNameOf(entry);
  const scope = eventScopeOf(entry);
  const statement = auditInsertOf({
    nameTable: name.table,
    scope: scope.source,
    decision: entry.decisionId !== undefined,
  }).compile(db, {
    workspaceId: entry.workspaceId,
    actorType: entry.actor.type,
    actorId: entry.actor.id,
    actorName: entry.actor.name,
    action: entry.action,
    targetType: entry.targetType,
    targetId,
    nameId: name.id,
    name: name.fallback,
    scopeId: scope.id,
    environmentType: scope.environmentType,
    projectId: scope.projectId,
    before: beforeJson,
    after: afterJson,
    createdAt: entry.createdAt,
    decisionId: entry.decisionId ?? null,
  });
  return {
    statement,
    change: {
      workspace_id: entry.workspaceId,
      target_type: entry.targetType,
      target_id: targetId,
      action: entry.action,
      detail_json: isDetailed(entry.action) ? (afterJson ?? beforeJson) : null,
    },
  };
}

/** What follows the audit insert in its transaction; false when it inserted nothing. */
async function settleAuditEvent(
  db: Executor,
  entry: AuditEntry,
  audit: PreparedAuditInsert,
  inserted: { id: number; webhooks: number | null } | undefined,
): Promise<boolean> {
  if (inserted === undefined) return false;
  // In the same transaction: the event's webhook deliveries (webhook-outbox.ts).
  if (inserted.webhooks !== null)
    await enqueueWebhookDeliveries(db, {
      id: inserted.id,
      workspaceId: entry.workspaceId,
      action: entry.action,
    });
  // The request that recorded it syncs the access index before answering (app.ts), up to this
  // event, which it applies as written here (the columns the change log would give back). Noted
  // once the transaction commits, never if it rolls back: an event noted but not stored would be
  // passed over when its ID comes back in the log (storage/commit-hooks.ts says why).
  const change: RecordedChange = { id: inserted.id, ...audit.change };
  await afterCommit(db, () => {
    noteChangeRecorded(entry.changes, change.id, change);
  });
  return true;
}

/**
 * Records an event; false (and nothing written) when it names a decision already recorded. On
 * PostgreSQL a decision of that name still being recorded by another transaction is waited for
 * (the unique key), so the answer is final.
 */
export async function insertAuditEvent(db: Executor, entry: AuditEntry): Promise<boolean> {
  const audit = prepareAuditEvent(db, entry);
  const { rows } = await db.executeQuery(audit.statement);
  return settleAuditEvent(db, entry, audit, rows[0]);
}

/** The results of statements sent together, typed as the statements are. */
export type ResultsOf<W extends readonly CompiledQuery[]> = {
  [K in keyof W]: W[K] extends CompiledQuery<infer R> ? QueryResult<R> : never;
};

/**
 * Writes and the event that records them, sent together in the transaction `db` (one round trip
 * instead of one each: storage/pipeline.ts): for writes whose event does not depend on their
 * results. Returns the writes' results; if the caller then finds them wanting and throws, the
 * transaction rolls the event back with them.
 */
export async function insertAuditEventWith<const W extends readonly CompiledQuery[]>(
  db: Executor,
  writes: W,
  entry: AuditEntry,
): Promise<ResultsOf<W>> {
  const audit = prepareAuditEvent(db, entry);
  const results = await runTogether(db, [...writes, audit.statement]);
  const recorded = results.pop() as QueryResult<{ id: number; webhooks: number | null }>;
  await settleAuditEvent(db, entry, audit, recorded.rows[0]);
  return results as unknown as ResultsOf<W>;
}

/** The `after` of the decision recorded under this name, if one is. */
export async function findDecisionRecord(
  db: Executor,
  workspaceId: number,
  decisionId: string,
): Promise<unknown> {
  const row = await db
    .selectFrom('audit_events')
    .select('after_json')
    .where('decision_id', '=', decisionId)
    .where('workspace_id', '=', workspaceId)
    .executeTakeFirst();
  return row?.after_json == null ? undefined : (JSON.parse(row.after_json) as unknown);
}

/**
 * Log entries written in one statement, names given: the MCP gateway's tool calls
 * (modules/gateway/tool-call-recorder.ts), flushed in batches off the call path. They record no
 * change, so they do not mark a request for an index sync (noteChangeRecorded): other instances
 * read them from the change log like any event and ignore them.
 */
export async function insertLogEvents(
  db: Executor,
  entries: readonly (AuditEntry & { targetName: string | null })[],
): Promise<void> {
  if (entries.length === 0) return;
  await db
    .insertInto('audit_events')
    .values(
      entries.map((entry) => ({
        workspace_id: entry.workspaceId,
        actor_type: entry.actor.type,
        actor_id: entry.actor.id,
        actor_name: entry.actor.name,
        action: entry.action,
        target_type: entry.targetType,
        target_id: entry.targetId === null ? null : String(entry.targetId),
        target_name: entry.targetName,
        ...scopeOf(entry),
        before_json: entry.before === undefined ? null : toJson(entry.before),
        after_json: entry.after === undefined ? null : toJson(entry.after),
        created_at: entry.createdAt,
      })),
    )
    .execute();
}

function scopeOf(entry: AuditEntry) {
  const scope = eventScopeOf(entry);
  return scopeSql(scope.source, { workspaceId: entry.workspaceId, scopeId: scope.id, ...scope });
}

type AuditFilter = Omit<ListAuditEventsQuery, 'page[number]' | 'page[size]'>;

/**
 * How a filter's time window (`since`, `until`) is read. `index`: its events' IDs through the
 * (workspace_id, created_at, id) index (migration 0038), and the other filters among them: work in
 * proportion to the window. `walk`: the workspace's events newest first by ID, each row's time
 * compared: work in proportion to the events up to the page's last, which for a window with few
 * events (a poller's `since` its last poll) is the whole log. `windowRead` chooses.
 */
type WindowRead = 'index' | 'walk';

function filtered(
  db: Executor,
  workspaceId: number,
  filter: AuditFilter,
  visibility: AuditVisibility,
  window: WindowRead,
) {
  let query = whereVisible(
    db.selectFrom('audit_events').where('workspace_id', '=', workspaceId),
    visibility,
  );
  if (filter.action !== undefined) query = query.where('action', '=', filter.action);
  if (filter.actor_type !== undefined) query = query.where('actor_type', '=', filter.actor_type);
  if (filter.actor_id !== undefined) query = query.where('actor_id', '=', filter.actor_id);
  if (filter.target_type !== undefined) query = query.where('target_type', '=', filter.target_type);
  if (filter.target_id !== undefined) query = query.where('target_id', '=', filter.target_id);
  if (filter.since === undefined && filter.until === undefined) return query;
  if (window === 'index') {
    const ids = windowEvents(db, workspaceId, filter).select('w.id');
    // PostgreSQL: the IDs as an array, found first, then each event by its ID. As `in (…)` it
    // may plan a semi-join, and with statistics chose a merge join of two walks of the whole log
    // by ID (docs/performance.md, "Twenty-second round"). SQLite looks up `in (…)`'s IDs in order.
    return query.where(
      db.getExecutor().adapter instanceof PostgresAdapter
        ? sql<boolean>`audit_events.id = any(array(${ids}))`
        : sql<boolean>`audit_events.id in (${ids})`,
    );
  }
  // The walk: each row's time compared as an expression that no index holds (SQLite's unary `+`,
  // PostgreSQL's `|| ''`), so that the database cannot take the time index instead and sort the
  // whole window: SQLite did, 112 ms for a window of 100,000 of 200,000 events against 1.4 ms
  // for the walk (docs/performance.md, "Twenty-second round").
  const time =
    db.getExecutor().adapter instanceof PostgresAdapter
      ? sql<string>`audit_events.created_at || ''`
      : sql<string>`+audit_events.created_at`;
  const { since, until } = windowBounds(filter);
  if (since !== undefined) query = query.where(time, '>=', since);
  if (until !== undefined) query = query.where(time, '<', until);
  return query;
}

/** The window's bounds as stored times (`created_at` is an ISO 8601 UTC string). */
function windowBounds(filter: AuditFilter): { since?: string; until?: string } {
  return {
    ...(filter.since === undefined ? {} : { since: new Date(filter.since).toISOString() }),
    ...(filter.until === undefined ? {} : { until: new Date(filter.until).toISOString() }),
  };
}

/** The workspace's events in the filter's time window, whatever its other filters. */
function windowEvents(db: Executor, workspaceId: number, filter: AuditFilter) {
  let query = db.selectFrom('audit_events as w').where('w.workspace_id', '=', workspaceId);
  const { since, until } = windowBounds(filter);
  if (since !== undefined) query = query.where('w.created_at', '>=', since);
  if (until !== undefined) query = query.where('w.created_at', '<', until);
  return query;
}

/**
 * A time window with fewer events than this is read through the time index (`WindowRead`). Past
 * it the walk is kept: its events are then many, and a window that reaches the newest events (a
 * `since` an hour or a year ago) has its first page among the first events walked, where reading
 * it through the index would sort every event of the window. What stays a walk of many rows is a
 * window of this many events or more that ends before many newer ones (`until` a month ago): the
 * walk passes the newer events first. Counting up to this many index entries is the cost of the
 * choice: 2–3 ms for a window this large (once a minute, below), less for a smaller one.
 */
export const SMALL_WINDOW_EVENTS = 10_000;

/**
 * How to read the filter's time window (`WindowRead`), and whether it has no events at all (then
 * nothing matches, and no page need be read).
 */
async function windowRead(
  db: Executor,
  workspaceId: number,
  filter: AuditFilter,
): Promise<{ read: WindowRead; empty: boolean }> {
  if (filter.since === undefined && filter.until === undefined)
    return { read: 'walk', empty: false };
  // A window's events only ever grow (the log is append-only): one found large is remembered as
  // a total at its cap is, and not counted again within the minute.
  const key = JSON.stringify(['window', workspaceId, filter.since ?? null, filter.until ?? null]);
  const events = await cappedTotal(
    db,
    key,
    async () => {
      const counted = await db
        .selectFrom(
          windowEvents(db, workspaceId, filter)
            .select(sql<number>`1`.as('one'))
            // In the index's order: without it PostgreSQL counted by reading the table from its
            // start, through every event before a `since` (16 ms for 100,000 of them).
            .orderBy('w.created_at')
            .limit(SMALL_WINDOW_EVENTS)
            .as('window_events'),
        )
        .select(sql<number>`cast(count(*) as integer)`.as('n'))
        .executeTakeFirstOrThrow();
      return counted.n;
    },
    SMALL_WINDOW_EVENTS,
  );
  return { read: events < SMALL_WINDOW_EVENTS ? 'index' : 'walk', empty: events === 0 };
}

/**
 * The most matching events a page's `total` counts: past it, `total` says this many (at least).
 * Every event stays reachable page by page and through the CSV export.
 */
export const AUDIT_TOTAL_CAP = 10_000;

/**
 * The unfiltered page a workspace-wide credential reads (the mixed load's list, the console's log)
 * and its capped count, compiled once (storage/prepared.ts): the same SQL `listAuditEvents` builds
 * for that case, whose builder and compiler ran on the main thread for every page.
 */
const unfilteredPage = prepared((db, p: { workspaceId: number; size: number; offset: number }) =>
  db
    .selectFrom('audit_events')
    .where('workspace_id', '=', p.workspaceId)
    .selectAll()
    .orderBy('id', 'desc')
    .limit(p.size)
    .offset(p.offset),
);
const unfilteredCount = prepared((db, p: { workspaceId: number; cap: number }) =>
  db
    .selectFrom(
      db
        .selectFrom('audit_events')
        .where('workspace_id', '=', p.workspaceId)
        .select(sql<number>`1`.as('one'))
        .limit(p.cap)
        .as('matching'),
    )
    .select(sql<number>`cast(count(*) as integer)`.as('n')),
);

function isUnfiltered(filter: AuditFilter): boolean {
  return (
    filter.action === undefined &&
    filter.actor_type === undefined &&
    filter.actor_id === undefined &&
    filter.target_type === undefined &&
    filter.target_id === undefined &&
    filter.since === undefined &&
    filter.until === undefined
  );
}

/**
 * Each database's counts that have reached the cap, and when each was counted, by workspace,
 * filter and credential's visibility. The log is append-only and its rows never change (no
 * statement updates or deletes an event; a workspace is never deleted), so the events any filter
 * and visibility match only ever grow: a count at the cap stays there, and need not run again. A
 * count walks up to 10,000 events (the whole log's: 3.7 ms of PostgreSQL's time and 0.7 ms of
 * SQLite's a page, the costliest statement of the mixed load; docs/performance.md, "Sixteenth
 * round"). It runs again after CAPPED_RECOUNT_MILLIS all the same, so that events an operator
 * deleted by hand show within a minute. Kept per database as environments.repository.ts keeps
 * environments: the adapter is made once per database, and only a count read outside a
 * transaction is kept (inside one it may count events that are rolled back). At most KEPT_COUNTS
 * per database, the oldest dropped first; a count is kept under its filter's values, and one whose
 * key is longer than KEPT_KEY_MAX (a credential limited to very many projects) is not kept.
 */
const capped = new WeakMap<object, Map<string, number>>();
const CAPPED_RECOUNT_MILLIS = 60_000;
const KEPT_COUNTS = 10_000;
const KEPT_KEY_MAX = 1_000;

function countKey(workspaceId: number, filter: AuditFilter, visibility: AuditVisibility): string {
  return JSON.stringify([
    workspaceId,
    filter.action ?? null,
    filter.actor_type ?? null,
    filter.actor_id ?? null,
    filter.target_type ?? null,
    filter.target_id ?? null,
    filter.since ?? null,
    filter.until ?? null,
    visibility === null
      ? null
      : [
          [...visibility.environmentTypes].sort(),
          visibility.projectIds === null ? null : [...visibility.projectIds].sort((a, b) => a - b),
        ],
  ]);
}

/**
 * The count `count` makes (up to `cap`), or `cap` if it was reached within the minute. The cap is
 * a page's (AUDIT_TOTAL_CAP) or a time window's size that is read by walking (SMALL_WINDOW_EVENTS).
 */
async function cappedTotal(
  db: Executor,
  key: string,
  count: () => Promise<number>,
  cap = AUDIT_TOTAL_CAP,
): Promise<number> {
  const database = db.getExecutor().adapter;
  let counts = capped.get(database);
  const countedAt = counts?.get(key);
  if (countedAt !== undefined && performance.now() - countedAt < CAPPED_RECOUNT_MILLIS) return cap;
  const total = await count();
  if (db.isTransaction || key.length > KEPT_KEY_MAX) return total;
  if (total < cap) {
    // Forgotten if it was kept: events were deleted by hand since.
    counts?.delete(key);
    return total;
  }
  if (counts === undefined) {
    counts = new Map();
    capped.set(database, counts);
  }
  counts.delete(key);
  if (counts.size >= KEPT_COUNTS) {
    const oldest = counts.keys().next();
    if (oldest.done !== true) counts.delete(oldest.value);
  }
  counts.set(key, performance.now());
  return total;
}

export async function listAuditEvents(
  db: Executor,
  workspaceId: number,
  filter: AuditFilter,
  page: PageRequest,
  visibility: AuditVisibility,
): Promise<{ rows: Row<'audit_events'>[]; total: number }> {
  const key = countKey(workspaceId, filter, visibility);
  if (visibility === null && isUnfiltered(filter)) {
    const [rows, total] = await Promise.all([
      unfilteredPage.execute(db, { workspaceId, size: page.size, offset: page.offset }),
      cappedTotal(db, key, async () => {
        const count = await unfilteredCount.takeFirst(db, { workspaceId, cap: AUDIT_TOTAL_CAP });
        return count?.n ?? 0;
      }),
    ]);
    return { rows, total };
  }
  const window = await windowRead(db, workspaceId, filter);
  if (window.empty) return { rows: [], total: 0 };
  const [rows, total] = await Promise.all([
    filtered(db, workspaceId, filter, visibility, window.read)
      .selectAll()
      .orderBy('id', 'desc')
      .limit(page.size)
      .offset(page.offset)
      .execute(),
    // Counted up to the cap only: a full count walks the workspace's whole log, which grows with
    // every write, and on SQLite that walk held the event loop for every request.
    cappedTotal(db, key, async () => {
      const count = await db
        .selectFrom(
          filtered(db, workspaceId, filter, visibility, window.read)
            .select(sql<number>`1`.as('one'))
            .limit(AUDIT_TOTAL_CAP)
            .as('matching'),
        )
        .select(sql<number>`cast(count(*) as integer)`.as('n'))
        .executeTakeFirstOrThrow();
      return count.n;
    }),
  ]);
  return { rows, total };
}

/**
 * Every event the filter matches, newest first, in pages of `batchSize` read one after another
 * (keyset on id, so a page never skips or repeats a row): the CSV export streams them with
 * bounded memory. Events written after the export starts are not included.
 */
export async function* iterateAuditEvents(
  db: Executor,
  workspaceId: number,
  filter: AuditFilter,
  visibility: AuditVisibility,
  batchSize = 1000,
): AsyncGenerator<Row<'audit_events'>> {
  // Chosen once: a window small at the start stays read through the index (exact either way).
  const window = await windowRead(db, workspaceId, filter);
  if (window.empty) return;
  let before: number | undefined;
  for (;;) {
    let query = filtered(db, workspaceId, filter, visibility, window.read);
    if (before !== undefined) query = query.where('id', '<', before);
    const rows = await query.selectAll().orderBy('id', 'desc').limit(batchSize).execute();
    yield* rows;
    const last = rows.at(-1);
    if (last === undefined || rows.length < batchSize) return;
    before = last.id;
  }
}

/**
 * How many events of each action fall in each UTC day (`keyLength` 10: `2026-12-05`) or hour (13:
 * `2026-12-05T19`) of [since, until), counted by the database: the dashboard's chart, exact
 * whatever the volume. `created_at` is an ISO 8601 UTC string, so its prefix is the bucket on
 * both stores. Buckets with no event are not returned.
 */
export async function countAuditEventsByBucket(
  db: Executor,
  workspaceId: number,
  filter: { actions: readonly string[]; since: string; until: string; keyLength: 10 | 13 },
  visibility: AuditVisibility,
): Promise<{ key: string; action: string; count: number }[]> {
  const key = sql<string>`substr(created_at, 1, ${sql.lit(filter.keyLength)})`;
  const rows = await whereVisible(
    db
      .selectFrom('audit_events')
      .where('workspace_id', '=', workspaceId)
      .where('action', 'in', [...filter.actions])
      .where('created_at', '>=', filter.since)
      .where('created_at', '<', filter.until),
    visibility,
  )
    .select([key.as('bucket'), 'action', sql<number | string>`count(*)`.as('n')])
    .groupBy([key, 'action'])
    .orderBy(key)
    .orderBy('action')
    .execute();
  // PostgreSQL's count(*) is a bigint, which pg hands over as a string.
  return rows.map((row) => ({ key: row.bucket, action: row.action, count: Number(row.n) }));
}

/**
 * Compiled once per number of members (storage/prepared.ts): a page of 50 built and compiled its
 * 50-way `union all` on the main thread for every list of collaborators.
 */
const lastActivities = prepared(
  (db, p: { workspaceId: number; actorIds: string[] }) => {
    // The IDs as rows (`select ? union all select ?…`: the same text on both stores).
    const wanted = sql.join(
      p.actorIds.map((id) => sql`select ${id} as actor_id`),
      sql` union all `,
    );
    const query = sql<{
      id: number | null;
      actor_id: string;
      action: string | null;
      created_at: string | null;
    }>`with latest as materialized (
      select wanted.actor_id, (
        select max(a.id) from audit_events as a
        where a.workspace_id = ${p.workspaceId} and a.actor_type = 'member'
          and a.actor_id = wanted.actor_id
      ) as id
      from (${wanted}) as wanted
    )
    select latest.id, latest.actor_id,
      (select e.action from audit_events as e where e.id = latest.id) as action,
      (select e.created_at from audit_events as e where e.id = latest.id) as created_at
    from latest`;
    return { compile: () => query.compile(db) };
  },
  { lists: ['actorIds'] },
);

/**
 * The latest thing each member did themselves: the reference API's `last_activity_log`.
 *
 * For each member, the last entry of the actor index (workspace_id, actor_type, actor_id, id) on
 * its full key (a correlated `max(id)`), then that event by its primary key: a few index pages per
 * member, and one plan whatever PostgreSQL knows of the table. The earlier form (one `group by`
 * over `actor_id in (…)` joined back to the log) cost what the plan made of it: with statistics,
 * a search of the IDs, or (at ~8,000 events) a filter over every member-made event; planned
 * before the table's first ANALYZE (a new database's first minute, then kept by the prepared
 * statement) a scan of the workspace's events through another index, 3,256 pages a call under
 * the mixed load (docs/performance.md, "Sixth round"). A join back to the log could likewise hash
 * a sequential scan of it, hence the scalar lookups. Materialized so that each member's `max` is
 * searched once, not once per column.
 */
export async function findLastActivities(
  db: Executor,
  workspaceId: number,
  memberIds: number[],
): Promise<Map<number, { id: number; event_type: string; created_at: string }>> {
  const result = new Map<number, { id: number; event_type: string; created_at: string }>();
  if (memberIds.length === 0) return result;
  const actorIds = [...new Set(memberIds)].map(String);
  const rows = await lastActivities.execute(db, { workspaceId, actorIds });
  for (const row of rows) {
    // A member who did nothing themselves has no event (`max` of nothing is null).
    if (row.id === null || row.action === null || row.created_at === null) continue;
    result.set(Number(row.actor_id), {
      id: row.id,
      event_type: row.action,
      created_at: row.created_at,
    });
  }
  return result;
}

// --- the audit log read as the change log (change-feed.ts) ---------------------------------------

/** detail_json: the snapshot of a change whose snapshot names what it changed (DETAILED_ACTIONS). */
export type ChangeEventRow = RecordedChange;

/**
 * The changes whose snapshot names exactly what they changed, read with the change log so its
 * subscribers can reload those rows only: members added to or removed from a group, grants
 * upserted in a project, a feature's grants to the users and groups named (change-feed.ts).
 */
const DETAILED_ACTIONS = [
  'project_grants.upserted',
  'user_group.members_added',
  'user_group.members_removed',
  'end_user_group.members_added',
  'end_user_group.members_removed',
  'feature.access_granted',
  'feature.access_revoked',
] as const;

const DETAILED: ReadonlySet<string> = new Set(DETAILED_ACTIONS);
const isDetailed = (action: string) => DETAILED.has(action);

const lastEventId = prepared((db: Executor) =>
  db.selectFrom('audit_events').select(sql<number | string | null>`max(id)`.as('max_id')),
);

export async function findLastEventId(db: Executor): Promise<number> {
  const row = await lastEventId.takeFirst(db, {});
  return Number(row?.max_id ?? 0);
}

/** Events after `afterId`, plus the listed earlier IDs still missing (see ChangeFeed.sync in change-feed.ts). */
const selectChangeEvents = (db: Executor) =>
  db
    .selectFrom('audit_events')
    .select(['id', 'workspace_id', 'target_type', 'target_id', 'action'])
    // Only those changes bring their snapshot: the other events' can be large and no subscriber
    // reads them.
    .select(
      sql<string | null>`case when action in (${sql.join(
        DETAILED_ACTIONS.map((action) => sql.lit(action)),
      )}) then coalesce(after_json, before_json) end`.as('detail_json'),
    );

/** The change events with these IDs (GET /api/access/snapshot/changes). */
export function findChangeEvents(db: Executor, ids: readonly number[]): Promise<ChangeEventRow[]> {
  return selectChangeEvents(db)
    .where('id', 'in', [...ids])
    .orderBy('id')
    .execute();
}

/** The change log's reads after each write (change-feed.ts), compiled once (storage/prepared.ts). */
const changeEventsAfter = prepared((db: Executor, p: { afterId: number; limit: number }) =>
  selectChangeEvents(db).where('id', '>', p.afterId).orderBy('id').limit(p.limit),
);
/**
 * The events of the IDs still missing (listChangeEvents), given as one JSON array (`[1,2,3]`): one
 * statement whatever their number. On PostgreSQL they grow to over a thousand under writes (the
 * IDs of rolled-back transactions are watched for a minute, MISSING_ID_TTL_MS in change-feed.ts),
 * and as an `in (…)` list of one placeholder each the read was compiled again on every call past
 * 100 of them (storage/prepared.ts's variants), then planned again by PostgreSQL: half of the
 * bytes the mixed load promoted (docs/performance.md, seventeenth round). Apart from the read of
 * the IDs after the position: `id > $1 or id = any(…)` in one statement made PostgreSQL scan the
 * table (capacity 1,079 → 415 requests/s), where each half alone is a primary-key lookup. The
 * dialect picks the form once per database, as prepared queries are built.
 */
const changeEventsIn = prepared((db: Executor, p: { idsJson: string }) =>
  selectChangeEvents(db)
    .where(
      db.getExecutor().adapter instanceof PostgresAdapter
        ? sql<boolean>`id = any(cast(translate(${p.idsJson}, '[]', '{}') as bigint[]))`
        : sql<boolean>`id in (select value from json_each(${p.idsJson}))`,
    )
    .orderBy('id'),
);

export async function listChangeEvents(
  db: Executor,
  afterId: number,
  missingIds: readonly number[],
  limit: number,
): Promise<ChangeEventRow[]> {
  if (missingIds.length === 0) return changeEventsAfter.execute(db, { afterId, limit });
  const [missing, after] = await Promise.all([
    changeEventsIn.execute(db, { idsJson: JSON.stringify(missingIds) }),
    changeEventsAfter.execute(db, { afterId, limit }),
  ]);
  // The missing IDs are all at or below the position, so they come first in ID order.
  return [...missing, ...after].slice(0, limit);
}

/**
 * The audit event of a change a request makes, written in the change's transaction: the
 * workspace and actor are the request's. `before` and `after` are what the change replaced and
 * made (either may be absent).
 */
export function recordChange(
  db: Executor,
  ctx: { workspaceId: number; actor: AuditEntry['actor']; changes?: ChangeTracker },
  createdAt: string,
  action: string,
  [targetType, targetId]: readonly [ChangeTargetType, AuditEntry['targetId']],
  change: Pick<AuditEntry, 'before' | 'after' | 'targetName' | 'decisionId'> = {},
): Promise<boolean> {
  return insertAuditEvent(db, changeEntry(ctx, createdAt, action, [targetType, targetId], change));
}

/** recordChange with the writes it records sent in the same round trip (insertAuditEventWith). */
export function recordChangeWith<const W extends readonly CompiledQuery[]>(
  db: Executor,
  writes: W,
  ctx: { workspaceId: number; actor: AuditEntry['actor']; changes?: ChangeTracker },
  createdAt: string,
  action: string,
  target: readonly [ChangeTargetType, AuditEntry['targetId']],
  change: Pick<AuditEntry, 'before' | 'after' | 'targetName' | 'decisionId'> = {},
): Promise<ResultsOf<W>> {
  return insertAuditEventWith(db, writes, changeEntry(ctx, createdAt, action, target, change));
}

function changeEntry(
  ctx: { workspaceId: number; actor: AuditEntry['actor']; changes?: ChangeTracker },
  createdAt: string,
  action: string,
  [targetType, targetId]: readonly [ChangeTargetType, AuditEntry['targetId']],
  change: Pick<AuditEntry, 'before' | 'after' | 'targetName' | 'decisionId'>,
): AuditEntry {
  return {
    workspaceId: ctx.workspaceId,
    actor: ctx.actor,
    action,
    targetType,
    targetId,
    ...change,
    createdAt,
    changes: ctx.changes,
  };
}
