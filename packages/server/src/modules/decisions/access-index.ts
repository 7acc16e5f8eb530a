/**
 * The access index: the columnar index (workspace-index.ts) and end-user slice (end-user-index.ts)
 * of each workspace in use, loaded on first use, kept current by the change feed
 * (audit/change-feed.ts), and evicted least recently used first when the loaded workspaces
 * outgrow the memory budget. The index is one subscriber of the feed; what each kind of change
 * reloads is one exhaustive table (markDirty, below). What the data means is
 * privilege-evaluation.ts. docs/decisions.md describes the design.
 *
 * A sync reads every row it needs first, then applies them without awaiting, so a check never
 * sees half a reload.
 *
 * Loaded, unloaded and reloaded workspaces stay exact: a workspace not held ignores the feed (its
 * next load reads the store, which has every committed write); events that arrive while a load
 * reads its rows are kept and applied before the load is installed, and a write committed after
 * the load's reads reaches the feed after it, so nothing is missed either way (docs/decisions.md,
 * "Workspaces loaded on use").
 */
import type { Db, Executor } from '../../storage/database.js';
import { systemClock, type Clock } from '../../lib/clock.js';
import { AppError } from '../../lib/errors.js';
import type { ChangeEvent, ChangeSubscriptions, FeatureGrantees } from '../audit/change-feed.js';
import {
  countGrants,
  findGrantRow,
  findPolicyFeatureId,
  findProjectRoleRow,
  listWorkspaceIds,
  loadDirectFeatureGrants,
  loadEndUserGroupRows,
  loadEndUserRows,
  loadEndUserSliceRows,
  loadFeatureGrantRowsOf,
  loadFeaturePolicyRows,
  loadFeatureRows,
  loadGrantPage,
  loadMembershipPage,
  LOAD_PAGE_SIZE,
  loadEnvironmentRoleRows,
  loadGroupRows,
  loadMemberRows,
  loadProjectRows,
  loadWorkspaceRows,
  type EndUserGroupReload,
  type EndUserReload,
  type FeatureGranteesReload,
  type FeaturePoliciesReload,
  type FeatureReload,
  type GrantIndexRow,
  type GroupReload,
  type MemberReload,
  type ProjectReload,
  type ProjectRoleIndexRow,
} from './decisions.repository.js';
import {
  applyCollaboratorDelta,
  applyEndUserDelta,
  type CollaboratorDelta,
  type EndUserDelta,
} from './access-delta.js';
import { EndUserSlice } from './end-user-index.js';
import { WorkspaceIndex } from './workspace-index.js';

/** Above this many targets in one workspace and one sync, a full reload is cheaper and simpler. */
const FULL_RELOAD_THRESHOLD = 500;
/** After a failed load, requests for that workspace answer 503 for this long before a retry. */
const RETRY_AFTER_FAILURE_MS = 1_000;
/** Start-up warming: workspaces loaded at once (one SQLite connection serves them all). */
const WARM_CONCURRENCY = 2;
/**
 * While requests ask for the index, the warm-up loads one workspace per this many ms: a request
 * then waits for at most one load in progress, not for a queue of them.
 */
const WARM_PACE_MS = 50;
/** Eviction frees down to this share of the budget, so a full budget does not evict on every load. */
const EVICT_TO = 0.9;

/**
 * Lets the event loop run what is waiting (requests, timers) before going on. On SQLite every
 * query resolves without leaving the microtask queue, so a load, and the warm-up above all, would
 * otherwise hold the loop from its first query to its last: 1,000 workspaces warming kept
 * /readyz from answering for 50 s.
 */
const yieldToLoop = () =>
  new Promise<void>((resolve) => {
    setImmediate(resolve);
  });

export interface AccessIndexOptions {
  db: Db;
  clock: Clock;
  /** The change feed the index subscribes to (app.ts starts it with the index's build). */
  changes: ChangeSubscriptions;
  /**
   * What the loaded workspaces may hold together, in estimated bytes (ROSTER_INDEX_MEMORY_MB);
   * past it the least recently used are evicted. Infinity: no limit.
   */
  memoryBudgetBytes?: number;
  /** How long a request waits for its workspace's load before a 503 with Retry-After. */
  loadWaitMs?: number;
  /** Warm workspaces in the background at start, in ID order, until the budget is nearly full. */
  warmAtStart?: boolean;
}

/** The part of a pino/Fastify logger the index uses. */
export interface IndexLog {
  error(details: object, message: string): void;
}

/** What one sync must reload in one workspace: markDirty fills it from the events. */
export interface Dirty {
  full: boolean;
  members: Set<number>;
  groups: Set<string>;
  projects: Set<number>;
  grants: Set<string>;
  projectRoles: Set<string>;
  environmentRoles: boolean;
  /** SCIM connections, or an event naming no one: the workspace's end-user slice is reloaded whole. */
  endUsers: boolean;
  /** End users and end-user groups reloaded one by one (a SCIM sync is thousands of these). */
  endUserIds: Set<number>;
  endUserGroupIds: Set<number>;
  /** Deleted end users and groups, taken out of the slice in memory. */
  removedEndUserIds: Set<number>;
  removedEndUserGroupIds: Set<number>;
  /** End users whose direct feature grants are read again (an environment revoked takes them). */
  directGrantUserIds: Set<number>;
  /** Features reloaded whole (grants and policies), and policies whose feature is. */
  featureIds: Set<number>;
  policyIds: Set<number>;
  /** A feature's grants to these users and groups only (its access granted or revoked). */
  featureGrantees: Map<number, { endUserIds: Set<number>; groupIds: Set<number> }>;
}

const emptyDirty = (): Dirty => ({
  full: false,
  members: new Set(),
  groups: new Set(),
  projects: new Set(),
  grants: new Set(),
  projectRoles: new Set(),
  environmentRoles: false,
  endUsers: false,
  endUserIds: new Set(),
  endUserGroupIds: new Set(),
  removedEndUserIds: new Set(),
  removedEndUserGroupIds: new Set(),
  directGrantUserIds: new Set(),
  featureIds: new Set(),
  policyIds: new Set(),
  featureGrantees: new Map(),
});

/** One workspace held in memory. */
interface Loaded {
  workspace: WorkspaceIndex;
  /**
   * Null until an end-user question needs it: most checks are collaborators', and the slice of a
   * workspace with 500 end users is five times its collaborator index.
   */
  endUsers: EndUserSlice | null;
  endUsersLoad: Loading | null;
  /** When the slice's last load failed (its questions answer 503 for a moment), else 0. */
  endUsersFailedAt: number;
  /** Its estimated size, as counted in the index's total. */
  bytes: number;
  /** The index's use counter at its last use: the least recently used is evicted first. */
  lastUsed: number;
}

/** A load in progress. Its promise never rejects: it settles with the failure, if any. */
interface Loading {
  settled: Promise<unknown>;
  /** Events for the workspace delivered while the load reads: applied before it is installed. */
  events: ChangeEvent[];
}

/** What /readyz reports about the index. */
export interface IndexState {
  workspaces_loaded: number;
  workspaces_loading: number;
  workspaces_failed: number;
  warming: boolean;
  estimated_bytes: number;
  budget_bytes: number | null;
  loads: number;
  evictions: number;
}

export class AccessIndex {
  private readonly loaded = new Map<number, Loaded>();
  private readonly loading = new Map<number, Loading>();
  /** Workspaces whose last load failed, and when: answered 503 for a moment, then retried. */
  private readonly failed = new Map<number, number>();
  private totalBytes = 0;
  private useCounter = 0;
  private warming = false;
  /** When a request last asked for the index (Date.now()): the warm-up gives way to requests. */
  private lastDemandMs = 0;
  /** Bumped by build(): a warm-up from an earlier build stops. */
  private generation = 0;
  private readonly budget: number;
  private readonly loadWaitMs: number;
  private log: IndexLog | undefined;
  /** The workspaces this instance keeps (its home share in a cluster, modules/cluster); all alone. */
  private holds: (id: number) => boolean = () => true;
  /** Counters for docs, tests and operators. */
  readonly stats = { fullReloads: 0, lastBuildMs: 0, loads: 0, evictions: 0, loadFailures: 0 };

  constructor(private readonly options: AccessIndexOptions) {
    this.budget = options.memoryBudgetBytes ?? Number.POSITIVE_INFINITY;
    this.loadWaitMs = options.loadWaitMs ?? 2_000;
    options.changes.subscribe((events) => this.apply(events));
  }

  /** Workspaces held in memory (the metrics' index size). */
  size(): number {
    return this.loaded.size;
  }

  /**
   * The workspace's index if it is loaded (and marked used); otherwise undefined, and its load is
   * started so that a retry finds it. Request handlers call `ready` first.
   */
  workspace(id: number): WorkspaceIndex | undefined {
    const entry = this.loaded.get(id);
    if (entry === undefined) {
      this.startLoad(id);
      return undefined;
    }
    entry.lastUsed = ++this.useCounter;
    return entry.workspace;
  }

  /**
   * The workspace's end users, features and policies (end-user-index.ts), as `workspace`: loaded
   * on the first end-user question (`readyEndUsers`).
   */
  endUsers(id: number): EndUserSlice | undefined {
    const entry = this.loaded.get(id);
    if (entry === undefined) {
      this.startLoad(id);
      return undefined;
    }
    entry.lastUsed = ++this.useCounter;
    if (entry.endUsers === null && Date.now() - entry.endUsersFailedAt >= RETRY_AFTER_FAILURE_MS)
      void this.loadEndUsers(id, entry);
    return entry.endUsers ?? undefined;
  }

  /** As `ready`, for a question about end users: the workspace and its end-user slice. */
  readyEndUsers(id: number): Promise<void> | undefined {
    this.lastDemandMs = Date.now();
    const entry = this.loaded.get(id);
    if (entry?.endUsers != null) {
      entry.lastUsed = ++this.useCounter;
      return undefined;
    }
    return this.waitForEndUsers(id);
  }

  /**
   * Undefined when the workspace is loaded (the usual case: no promise, no wait); else a promise
   * that resolves once it is, or rejects with a 503 and Retry-After when the load fails or takes
   * longer than the wait bound. Concurrent first requests share one load.
   */
  ready(id: number): Promise<void> | undefined {
    this.lastDemandMs = Date.now();
    const entry = this.loaded.get(id);
    if (entry !== undefined) {
      entry.lastUsed = ++this.useCounter;
      return undefined;
    }
    return this.waitForLoad(id);
  }

  /**
   * Keeps only the workspaces `holds` accepts: the warm-up skips the others, and `dropUnheld`
   * evicts those loaded meanwhile (a request answered while their home was unreachable).
   */
  holdOnly(holds: (id: number) => boolean): void {
    this.holds = holds;
    this.dropUnheld();
  }

  /** Evicts the loaded workspaces this instance does not hold; they load again on use. */
  dropUnheld(): void {
    for (const [id, entry] of this.loaded) {
      if (this.holds(id)) continue;
      this.loaded.delete(id);
      this.totalBytes -= entry.bytes;
      this.stats.evictions += 1;
    }
  }

  /** Reports load failures to the server's logger. */
  useLog(log: IndexLog): void {
    this.log = log;
  }

  /** The time of a check; no Date is made with the system clock (tests inject a clock they move). */
  nowMs(): number {
    return this.options.clock === systemClock ? Date.now() : this.options.clock.now().getTime();
  }

  /** What is warm, for /readyz. */
  state(): IndexState {
    // A readiness probe is a request too: the warm-up gives way to it.
    this.lastDemandMs = Date.now();
    return {
      workspaces_loaded: this.loaded.size,
      workspaces_loading: this.loading.size,
      workspaces_failed: this.failed.size,
      warming: this.warming,
      estimated_bytes: this.totalBytes,
      budget_bytes: Number.isFinite(this.budget) ? this.budget : null,
      loads: this.stats.loads,
      evictions: this.stats.evictions,
    };
  }

  /**
   * Drops every loaded workspace; they load again on use. The change feed calls it at start,
   * after it has read the log's position.
   */
  build(): Promise<void> {
    this.generation += 1;
    this.loaded.clear();
    this.totalBytes = 0;
    this.failed.clear();
    return Promise.resolve();
  }

  /**
   * With `warmAtStart`, loads workspaces in the background in ID order, a few at a time, until
   * the budget is nearly full. app.ts starts it once the server listens, so it never delays
   * start-up; requests meanwhile load their own workspace first.
   */
  startWarming(): void {
    if (this.options.warmAtStart === true && !this.warming) void this.warm(this.generation);
  }

  private async warm(generation: number): Promise<void> {
    const started = performance.now();
    this.warming = true;
    try {
      const ids = (await listWorkspaceIds(this.options.db)).map((row) => row.id);
      let next = 0;
      const worker = async () => {
        while (next < ids.length && generation === this.generation) {
          if (this.totalBytes >= this.budget * EVICT_TO) return;
          const id = ids[next++] as number;
          if (!this.holds(id)) continue;
          if (!this.loaded.has(id)) await this.load(id);
          // A timer, not setImmediate: the loop goes idle for a moment, so a request that needs
          // several turns (read, query, write) completes between two loads.
          const pause = Date.now() - this.lastDemandMs < WARM_PACE_MS ? WARM_PACE_MS : 1;
          await new Promise((resolve) => setTimeout(resolve, pause));
        }
      };
      await Promise.all(Array.from({ length: WARM_CONCURRENCY }, worker));
    } catch (error) {
      this.log?.error({ err: error }, 'warming the access index stopped; workspaces load on use');
    } finally {
      if (generation === this.generation) {
        this.warming = false;
        this.stats.lastBuildMs = performance.now() - started;
      }
    }
  }

  private async waitForLoad(id: number): Promise<void> {
    const failedAt = this.failed.get(id);
    if (failedAt !== undefined && Date.now() - failedAt < RETRY_AFTER_FAILURE_MS)
      throw unavailable(id);
    await this.withinWait(id, this.load(id));
    if (!this.loaded.has(id)) throw unavailable(id);
  }

  private async waitForEndUsers(id: number): Promise<void> {
    if (!this.loaded.has(id)) await this.waitForLoad(id);
    const entry = this.loaded.get(id);
    if (entry === undefined) throw unavailable(id);
    if (entry.endUsers !== null) return;
    if (Date.now() - entry.endUsersFailedAt < RETRY_AFTER_FAILURE_MS) throw unavailable(id);
    await this.withinWait(id, this.loadEndUsers(id, entry));
    // The load set it (TypeScript keeps the narrowing from before the await).
    if ((entry.endUsers as EndUserSlice | null) === null) throw unavailable(id);
  }

  /** Waits for a load (settled: its failure or undefined) at most loadWaitMs; else a 503. */
  private async withinWait(id: number, load: Promise<unknown>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => {
        resolve('timeout');
      }, this.loadWaitMs);
    });
    try {
      const outcome = await Promise.race([load, timeout]);
      if (outcome === 'timeout') {
        throw new AppError(
          503,
          'access.index_loading',
          `The access index of workspace ${id} is still loading; retry in a moment`,
          { 'retry-after': '1' },
        );
      }
      if (outcome !== undefined || !this.loaded.has(id)) throw unavailable(id);
    } finally {
      clearTimeout(timer);
    }
  }

  private startLoad(id: number): void {
    const failedAt = this.failed.get(id);
    if (failedAt !== undefined && Date.now() - failedAt < RETRY_AFTER_FAILURE_MS) return;
    void this.load(id);
  }

  /** Loads the workspace, or joins its load in progress; settles with the failure, if any. */
  private load(id: number): Promise<unknown> {
    const current = this.loading.get(id);
    if (current !== undefined) return current.settled;
    const loading: Loading = { settled: Promise.resolve(), events: [] };
    loading.settled = this.loadNow(id, loading).then(
      () => {
        this.failed.delete(id);
        return undefined;
      },
      (error: unknown) => {
        this.stats.loadFailures += 1;
        this.failed.set(id, Date.now());
        this.log?.error(
          { err: error, workspaceId: id },
          'could not load a workspace into the access index; its requests answer 503 until a retry loads it',
        );
        return error ?? new Error('load failed');
      },
    );
    this.loading.set(id, loading);
    void loading.settled.finally(() => {
      if (this.loading.get(id) === loading) this.loading.delete(id);
    });
    return loading.settled;
  }

  private async loadNow(id: number, loading: Loading): Promise<void> {
    const generation = this.generation;
    const workspace = await this.buildWorkspace(id);
    if (workspace === undefined) throw new Error(`workspace ${id} does not exist`);
    const entry: Loaded = {
      workspace,
      endUsers: null,
      endUsersLoad: null,
      endUsersFailedAt: 0,
      bytes: 0,
      lastUsed: 0,
    };
    // Writes the feed delivered while the rows were read may be missing from them: apply them now,
    // before anyone can read the index (their rows are read again, which is harmless).
    while (loading.events.length > 0) await this.refresh(id, entry, loading.events.splice(0));
    if (generation !== this.generation) return;
    this.stats.loads += 1;
    this.loading.delete(id);
    this.install(id, entry);
  }

  /**
   * Loads the end-user slice of a loaded workspace, or joins its load in progress; settles with
   * the failure, if any. Events for the workspace that arrive meanwhile are kept by `refresh` and
   * applied before the slice is set, as for a workspace's load.
   */
  private loadEndUsers(id: number, entry: Loaded): Promise<unknown> {
    if (entry.endUsersLoad !== null) return entry.endUsersLoad.settled;
    const loading: Loading = { settled: Promise.resolve(), events: [] };
    const run = async () => {
      let slice = new EndUserSlice(await loadEndUserSliceRows(this.options.db, id));
      while (loading.events.length > 0) {
        const dirty = emptyDirty();
        for (const event of loading.events.splice(0)) markDirty(dirty, event);
        slice = await this.reloadEndUsers(id, slice, dirty);
      }
      entry.endUsers = slice;
      entry.endUsersLoad = null;
      entry.endUsersFailedAt = 0;
      this.resize(id, entry);
    };
    loading.settled = run().then(
      () => undefined,
      (error: unknown) => {
        entry.endUsersLoad = null;
        entry.endUsersFailedAt = Date.now();
        this.stats.loadFailures += 1;
        this.log?.error(
          { err: error, workspaceId: id },
          "could not load a workspace's end users into the access index; its end-user questions answer 503 until a retry loads them",
        );
        return error ?? new Error('load failed');
      },
    );
    entry.endUsersLoad = loading;
    return loading.settled;
  }

  private install(id: number, entry: Loaded): void {
    const previous = this.loaded.get(id);
    if (previous !== undefined) this.totalBytes -= previous.bytes;
    entry.bytes = sizeOf(entry);
    entry.lastUsed = ++this.useCounter;
    this.loaded.set(id, entry);
    this.totalBytes += entry.bytes;
    this.evictFor(entry);
  }

  /** Counts a held workspace's new size (after a sync or its slice's load) and evicts if over. */
  private resize(id: number, entry: Loaded): void {
    // Evicted meanwhile: its size no longer counts.
    if (this.loaded.get(id) !== entry) return;
    const bytes = sizeOf(entry);
    this.totalBytes += bytes - entry.bytes;
    entry.bytes = bytes;
    this.evictFor(entry);
  }

  /**
   * Over the budget, evicts the least recently used workspaces (never `keep`, the one just loaded
   * or changed, which a request is about to read) down to EVICT_TO of the budget.
   */
  private evictFor(keep: Loaded): void {
    if (this.totalBytes <= this.budget) return;
    const byUse = [...this.loaded].sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    for (const [id, entry] of byUse) {
      if (this.totalBytes <= this.budget * EVICT_TO) break;
      if (entry === keep) continue;
      this.loaded.delete(id);
      this.totalBytes -= entry.bytes;
      this.stats.evictions += 1;
    }
  }

  private async buildWorkspace(id: number): Promise<WorkspaceIndex | undefined> {
    const rows = await loadWorkspaceRows(this.options.db, id);
    if (rows === undefined) return undefined;
    const index = new WorkspaceIndex(id);
    index.load(rows);
    const db = this.options.db;
    for (let after = 0; ;) {
      const page = await loadMembershipPage(db, id, after);
      index.addMembershipRows(page);
      if (page.length < LOAD_PAGE_SIZE) break;
      await yieldToLoop();
      after = (page[page.length - 1] as { id: number }).id;
    }
    index.reserveGrants(await countGrants(db, id));
    for (let after = ''; ;) {
      const page = await loadGrantPage(db, id, after);
      index.addGrantRows(page);
      if (page.length < LOAD_PAGE_SIZE) break;
      await yieldToLoop();
      after = (page[page.length - 1] as GrantIndexRow).id;
    }
    index.finishLoad();
    return index;
  }

  /** The index's subscription to the change feed: reloads what each event names. */
  private async apply(events: readonly ChangeEvent[]): Promise<void> {
    const byWorkspace = new Map<number, ChangeEvent[]>();
    for (const event of events) {
      const list = byWorkspace.get(event.workspaceId);
      if (list === undefined) byWorkspace.set(event.workspaceId, [event]);
      else list.push(event);
    }
    for (const [workspaceId, list] of byWorkspace) {
      const loading = this.loading.get(workspaceId);
      if (loading !== undefined) {
        // The load applies them before it is installed; a request waits for that load.
        loading.events.push(...list);
        continue;
      }
      const entry = this.loaded.get(workspaceId);
      // Not held: its next load reads the store, which has these writes.
      if (entry === undefined) continue;
      await this.refresh(workspaceId, entry, list);
      this.resize(workspaceId, entry);
    }
  }

  /** Brings one held (or loading) workspace up to date with what the events name. */
  private async refresh(
    workspaceId: number,
    entry: Loaded,
    events: readonly ChangeEvent[],
  ): Promise<void> {
    const dirty = dirtyFor(events);
    // The end-user slice: reloaded if held, kept for its load if loading, else read when needed.
    if (entry.endUsers !== null)
      entry.endUsers = await this.reloadEndUsers(workspaceId, entry.endUsers, dirty);
    else if (entry.endUsersLoad !== null) entry.endUsersLoad.events.push(...events);
    if (dirty.rebuild) {
      this.stats.fullReloads += 1;
      const rebuilt = await this.buildWorkspace(workspaceId);
      if (rebuilt !== undefined) entry.workspace = rebuilt;
      else if (this.loaded.get(workspaceId) === entry) {
        // The workspace is gone.
        this.loaded.delete(workspaceId);
        this.totalBytes -= entry.bytes;
      }
      return;
    }
    if (!dirty.environmentRoles && collaboratorTargets(dirty) === 0) return;
    await this.reloadTargets(entry.workspace, dirty);
  }

  /**
   * The end-user slice: whole on a full change or above the threshold, else the named users and
   * groups one by one (read first, then applied without awaiting, as for collaborators).
   */
  private async reloadEndUsers(
    workspaceId: number,
    slice: EndUserSlice,
    dirty: Dirty,
  ): Promise<EndUserSlice> {
    const delta = await readEndUserDelta(this.options.db, workspaceId, dirty);
    return delta === null ? slice : applyEndUserDelta(slice, delta);
  }

  /** Reads everything first, then changes the index without awaiting, so a check never sees half a reload. */
  private async reloadTargets(index: WorkspaceIndex, dirty: Dirty): Promise<void> {
    applyCollaboratorDelta(index, await readCollaboratorDelta(this.options.db, index.id, dirty));
  }
}

/**
 * What a set of changes reloads in one workspace (the reload table, markDirty), or `full` when the
 * workspace is rebuilt instead. Shared with GET /api/access/snapshot/changes (snapshot.service.ts).
 */
export function dirtyFor(events: readonly ChangeEvent[]): Dirty & { rebuild: boolean } {
  const dirty = emptyDirty();
  for (const event of events) markDirty(dirty, event);
  return { ...dirty, rebuild: dirty.full || collaboratorTargets(dirty) > FULL_RELOAD_THRESHOLD };
}

const collaboratorTargets = (dirty: Dirty): number =>
  dirty.members.size +
  dirty.groups.size +
  dirty.projects.size +
  dirty.grants.size +
  dirty.projectRoles.size;

/** How many end-user entities a sync names one by one (above FULL_RELOAD_THRESHOLD: the slice). */
const endUserTargets = (dirty: Dirty): number =>
  dirty.endUserIds.size +
  dirty.endUserGroupIds.size +
  dirty.removedEndUserIds.size +
  dirty.removedEndUserGroupIds.size +
  dirty.directGrantUserIds.size +
  dirty.featureIds.size +
  dirty.policyIds.size +
  granteeCount(dirty);

const granteeCount = (dirty: Dirty): number => {
  let count = 0;
  for (const named of dirty.featureGrantees.values())
    count += named.endUserIds.size + named.groupIds.size;
  return count;
};

/**
 * The reload table as GET /api/access/snapshot/changes applies it (format 1): a local authorizer
 * of that format reloads end users and groups one by one and nothing else, so a deletion, a
 * feature or a policy reloads its slice whole there, as it always did.
 */
export function forSnapshotChanges<D extends Dirty>(dirty: D): D {
  const fine =
    dirty.removedEndUserIds.size +
    dirty.removedEndUserGroupIds.size +
    dirty.directGrantUserIds.size +
    dirty.featureIds.size +
    dirty.policyIds.size +
    dirty.featureGrantees.size;
  return fine === 0 ? dirty : { ...dirty, endUsers: true };
}

/** The end-user rows a sync reloads, or null when it reloads none. */
export async function readEndUserDelta(
  db: Executor,
  workspaceId: number,
  dirty: Dirty,
): Promise<EndUserDelta | null> {
  const targets = endUserTargets(dirty);
  if (targets === 0 && !dirty.endUsers && !dirty.full) return null;
  if (dirty.endUsers || dirty.full || targets > FULL_RELOAD_THRESHOLD)
    return { slice: await loadEndUserSliceRows(db, workspaceId), users: [], groups: [] };
  const [users, groups, directGrants, policyFeatures] = await Promise.all([
    Promise.all(
      [...dirty.endUserIds].map(
        async (id) => [id, await loadEndUserRows(db, workspaceId, id)] as [number, EndUserReload],
      ),
    ),
    Promise.all(
      [...dirty.endUserGroupIds].map(
        async (id) =>
          [id, await loadEndUserGroupRows(db, workspaceId, id)] as [number, EndUserGroupReload],
      ),
    ),
    Promise.all(
      [...dirty.directGrantUserIds].map(
        async (id) =>
          [id, await loadDirectFeatureGrants(db, id)] as [
            number,
            { id: number; feature_id: number }[],
          ],
      ),
    ),
    Promise.all([...dirty.policyIds].map((id) => findPolicyFeatureId(db, workspaceId, id))),
  ]);
  // A policy's feature has its policies reloaded (not its grants), unless it is reloaded whole;
  // a deleted policy is only taken out (dropPolicy).
  const policyFeatureIds = new Set<number>();
  for (const featureId of policyFeatures)
    if (featureId !== undefined && !dirty.featureIds.has(featureId))
      policyFeatureIds.add(featureId);
  const [features, featurePolicies, featureGrants] = await Promise.all([
    Promise.all(
      [...dirty.featureIds].map(
        async (id) => [id, await loadFeatureRows(db, workspaceId, id)] as [number, FeatureReload],
      ),
    ),
    Promise.all(
      [...policyFeatureIds].map(
        async (id) => [id, await loadFeaturePolicyRows(db, id)] as [number, FeaturePoliciesReload],
      ),
    ),
    // A feature reloaded whole has these grants already.
    Promise.all(
      [...dirty.featureGrantees]
        .filter(([id]) => !dirty.featureIds.has(id))
        .map(async ([id, named]) => {
          const grantees = { endUserIds: [...named.endUserIds], groupIds: [...named.groupIds] };
          return [id, { ...grantees, rows: await loadFeatureGrantRowsOf(db, id, grantees) }] as [
            number,
            FeatureGranteesReload,
          ];
        }),
    ),
  ]);
  return {
    slice: null,
    users,
    groups,
    removedUsers: [...dirty.removedEndUserIds],
    removedGroups: [...dirty.removedEndUserGroupIds],
    directGrants,
    policies: [...dirty.policyIds],
    featurePolicies,
    features,
    featureGrants,
  };
}

/** The collaborator rows a sync reloads (not for a rebuild: that reads the whole workspace). */
export async function readCollaboratorDelta(
  db: Executor,
  id: number,
  dirty: Dirty,
): Promise<CollaboratorDelta> {
  const [environmentRoles, projectRoles, members, groups, projects, grants] = await Promise.all([
    dirty.environmentRoles ? loadEnvironmentRoleRows(db, id) : Promise.resolve(null),
    Promise.all(
      [...dirty.projectRoles].map(
        async (roleId) =>
          [roleId, (await findProjectRoleRow(db, id, roleId)) ?? null] as [
            string,
            ProjectRoleIndexRow | null,
          ],
      ),
    ),
    Promise.all(
      [...dirty.members].map(
        async (memberId) =>
          [memberId, await loadMemberRows(db, id, memberId)] as [number, MemberReload],
      ),
    ),
    Promise.all(
      [...dirty.groups].map(
        async (groupId) => [groupId, await loadGroupRows(db, id, groupId)] as [string, GroupReload],
      ),
    ),
    Promise.all(
      [...dirty.projects].map(
        async (projectId) =>
          [projectId, await loadProjectRows(db, id, projectId)] as [number, ProjectReload],
      ),
    ),
    Promise.all(
      [...dirty.grants].map(
        async (grantId) =>
          [grantId, (await findGrantRow(db, id, grantId)) ?? null] as [
            string,
            GrantIndexRow | null,
          ],
      ),
    ),
  ]);
  return {
    environmentRoles:
      environmentRoles === null
        ? null
        : {
            legacyRoles: environmentRoles.legacyRoles,
            environmentRoles: environmentRoles.environmentRoles,
          },
    projectRoles,
    members,
    groups,
    projects,
    grants,
  };
}

/** A held workspace's estimated bytes: its collaborator index, and its end users once loaded. */
function sizeOf(entry: Loaded): number {
  return entry.workspace.estimateBytes() + (entry.endUsers?.estimateBytes() ?? 0);
}

function unavailable(id: number): AppError {
  return new AppError(
    503,
    'access.index_unavailable',
    `The access index of workspace ${id} could not be loaded; retry in a moment`,
    { 'retry-after': '1' },
  );
}

/**
 * The reload table: what each kind of change means for the index. One case per target type the
 * audit log is written with (CHANGE_TARGET_TYPES in audit/change-kinds.ts, which also types every write) and no default, so a new
 * kind fails to compile here until it says what it reloads. A target type this version does not
 * know (`null`) changes nothing.
 */
function markDirty(dirty: Dirty, event: ChangeEvent): void {
  const target = event.targetId;
  const type = event.targetType;
  // The migration rewrites roles, assignments and grants across the workspace (its events name
  // the workspace or a role): rebuild it.
  if (event.action.startsWith('roles_migration.')) {
    dirty.full = true;
    return;
  }
  if (type === null) return;
  switch (type) {
    case 'workspace':
      dirty.full = true;
      return;
    case 'member':
      if (target !== null && /^\d+$/.test(target)) dirty.members.add(Number(target));
      return;
    case 'user_group':
      // Members added or removed: reloading them is proportional to the change; reloading the
      // group, to its size.
      if (reloadsMembersOnly(event)) for (const id of event.memberIds) dirty.members.add(id);
      else if (target !== null) dirty.groups.add(target);
      return;
    case 'project':
      // Grants upserted: reloading them is proportional to the change; reloading the project, to
      // its grants.
      if (
        event.grantIds !== undefined &&
        event.grantIds !== null &&
        event.grantIds.length <= MEMBER_RELOADS_PER_CHANGE
      )
        for (const id of event.grantIds) dirty.grants.add(id);
      else if (target !== null && /^\d+$/.test(target)) dirty.projects.add(Number(target));
      return;
    case 'project_grant':
      if (target !== null) dirty.grants.add(target);
      return;
    case 'project_role':
      if (target !== null) dirty.projectRoles.add(target);
      return;
    case 'environment_role':
    case 'role':
      dirty.environmentRoles = true;
      return;
    case 'end_user': {
      // A decision's own log entry changes nothing (and must not cost a reload per decision).
      if (event.action === 'end_user.decision') return;
      const id = numericTarget(target);
      if (id === null) dirty.endUsers = true;
      // A deletion also took the user's memberships, feature grants and policy targets: the
      // slice drops them in memory. An environment revoked took the user's direct feature grants
      // there: they are read again, or a revoked grant would stay in the index and allow again
      // once the environment is granted back.
      else if (event.action.endsWith('.deleted')) dirty.removedEndUserIds.add(id);
      else {
        dirty.endUserIds.add(id);
        if (event.action === 'end_user.environment_revoked') dirty.directGrantUserIds.add(id);
      }
      return;
    }
    case 'end_user_group': {
      const id = numericTarget(target);
      if (id === null) dirty.endUsers = true;
      // A deleted group also took its feature grants and policy targets: dropped in memory.
      else if (event.action.endsWith('.deleted')) dirty.removedEndUserGroupIds.add(id);
      else if (reloadsMembersOnly(event))
        for (const memberId of event.memberIds) dirty.endUserIds.add(memberId);
      else dirty.endUserGroupIds.add(id);
      return;
    }
    case 'scim_connection':
      // A deleted collaborators connection takes its deactivations with it (its rows cascade).
      if (event.action === 'scim_connection.deleted') dirty.full = true;
      dirty.endUsers = true;
      return;
    // A feature (its grants, its policies) is reloaded whole, in proportion to its size, not to
    // the slice's; a policy's feature has its policies reloaded. Access granted or revoked
    // reloads the grants of the users and groups it names only, whatever the feature's size.
    case 'feature': {
      const id = numericTarget(target);
      if (id === null) dirty.endUsers = true;
      else if (reloadsGranteesOnly(event)) {
        let named = dirty.featureGrantees.get(id);
        if (named === undefined) {
          named = { endUserIds: new Set(), groupIds: new Set() };
          dirty.featureGrantees.set(id, named);
        }
        for (const userId of event.featureGrantees.endUserIds) named.endUserIds.add(userId);
        for (const groupId of event.featureGrantees.groupIds) named.groupIds.add(groupId);
      } else dirty.featureIds.add(id);
      return;
    }
    case 'policy': {
      const id = numericTarget(target);
      if (id === null) dirty.endUsers = true;
      else dirty.policyIds.add(id);
      return;
    }
    // Not index data. API clients: the authentication cache subscribes to the feed itself.
    // Invitations become members through a `member` event; approval requests are read by the
    // decision that uses them (end-user-decisions.ts); SSO settings and webhooks hold no access.
    // Agents: the gateway's agent cache subscribes itself (agents.service.ts); their tool calls
    // (`agent.tool_call`) are log entries only.
    case 'agent':
    case 'api_client':
    case 'member_invitation':
    case 'approval_request':
    case 'sso_oidc':
    case 'webhook':
      return;
    default:
      return unhandled(type);
  }
}

const numericTarget = (target: string | null): number | null =>
  target !== null && /^\d+$/.test(target) ? Number(target) : null;

/**
 * A change naming at most this many members (or grants) reloads them one by one; a larger one
 * reloads the group (or project): one read instead of one per row.
 */
const MEMBER_RELOADS_PER_CHANGE = 50;

function reloadsMembersOnly(
  event: ChangeEvent,
): event is ChangeEvent & { memberIds: readonly number[] } {
  return (
    event.memberIds !== undefined &&
    event.memberIds !== null &&
    event.memberIds.length <= MEMBER_RELOADS_PER_CHANGE
  );
}

function reloadsGranteesOnly(
  event: ChangeEvent,
): event is ChangeEvent & { featureGrantees: FeatureGrantees } {
  const named = event.featureGrantees;
  return (
    named !== undefined &&
    named !== null &&
    named.endUserIds.length + named.groupIds.length <= MEMBER_RELOADS_PER_CHANGE
  );
}

/** Compile-time exhaustiveness: only reached by a target type with no case above. */
function unhandled(type: never): never {
  throw new Error(`access index: no reload rule for target type ${String(type)}`);
}
