/**
 * Instance membership and home instances (docs/operations.md, "Several instances"). Every
 * instance with ROSTER_INSTANCE_URL keeps a row in `cluster_instances` (PostgreSQL), renews its
 * heartbeat every ROSTER_CLUSTER_HEARTBEAT_MS and reads the rows renewed within
 * ROSTER_CLUSTER_LEASE_MS: those are the live instances. Each workspace's home is chosen among them
 * by rendezvous (highest random weight) hashing of the instance URL with the workspace ID, so every
 * instance computes the same home from the same list with no coordination, and when an instance
 * joins or leaves only the workspaces it gains or held move. Times are the database's `now()`, so
 * the instances' clocks need not agree.
 */
import { createHash, randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../storage/database.js';

export interface MembershipOptions {
  db: Kysely<Database>;
  /** This instance's URL as the others reach it. */
  url: string;
  heartbeatMs: number;
  leaseMs: number;
  /** Called after the live list (or a suspicion) changed: the index drops what it no longer holds. */
  onChange: () => void;
  log?: { error(fields: object, message: string): void };
}

/** The weight of `instanceUrl` for `workspaceId`; the highest weight is the home. */
function weight(instanceUrl: string, workspaceId: number): number {
  return createHash('sha256')
    .update(`${instanceUrl}\n${String(workspaceId)}`)
    .digest()
    .readUIntBE(0, 6);
}

/**
 * The home of a workspace among `urls`: the URL of highest weight (ties, vanishingly rare at 48
 * bits, go to the first in order). Exported for the cluster benchmark, which predicts homes.
 */
export function rendezvousHome(urls: readonly string[], workspaceId: number): string | undefined {
  let best: string | undefined;
  let bestWeight = -1;
  for (const url of urls) {
    const w = weight(url, workspaceId);
    if (w > bestWeight) {
      best = url;
      bestWeight = w;
    }
  }
  return best;
}

export class Membership {
  readonly url: string;
  /** This process: a restarted instance at the same URL replaces its old row. */
  private readonly instanceId = randomUUID();
  /** The live instance URLs (this one included once joined), sorted. */
  private live: string[] = [];
  /** Instances a forward failed to reach, until when (Date.now()): skipped as homes meanwhile. */
  private readonly suspects = new Map<string, number>();
  /** workspace → home URL, for the current live list and suspicions. */
  private readonly homes = new Map<number, string>();
  private timer: NodeJS.Timeout | undefined;
  /** The heartbeat in flight: leaving waits for it, so it cannot register the row again after. */
  private beating: Promise<void> | undefined;
  private log: MembershipOptions['log'];
  private joined = false;

  constructor(private readonly options: MembershipOptions) {
    this.url = options.url;
    this.log = options.log;
  }

  /** Reports heartbeat failures to the server's logger. */
  useLog(log: NonNullable<MembershipOptions['log']>): void {
    this.log = log;
  }

  /**
   * Registers this instance and starts the heartbeat (after the server listens). A database that
   * does not answer does not stop the start: the next heartbeats register it.
   */
  async join(): Promise<void> {
    this.joined = true;
    await this.beat();
    this.timer = setInterval(() => {
      this.beating ??= this.beat().finally(() => {
        this.beating = undefined;
      });
    }, this.options.heartbeatMs);
    this.timer.unref();
  }

  /** Clean shutdown: stops the heartbeat and removes this instance's row, so its share moves now. */
  async leave(): Promise<void> {
    const joined = this.joined;
    this.halt();
    if (!joined) return;
    await this.beating;
    await sql`delete from cluster_instances where url = ${this.url}
      and instance_id = ${this.instanceId}`.execute(this.options.db);
  }

  /**
   * Stops the heartbeat and leaves the row: what a crashed process leaves behind. The others
   * drop it once its lease runs out (tests use it to stand for a killed instance).
   */
  halt(): void {
    this.joined = false;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The live instances' URLs, as last read. */
  instances(): readonly string[] {
    return this.live;
  }

  /** The URL of the workspace's home instance (this one's when it is alone or not yet joined). */
  homeOf(workspaceId: number): string {
    const cached = this.homes.get(workspaceId);
    if (cached !== undefined) return cached;
    const now = Date.now();
    const candidates = this.live.filter(
      (url) => url === this.url || (this.suspects.get(url) ?? 0) <= now,
    );
    const best = rendezvousHome(candidates, workspaceId) ?? this.url;
    this.homes.set(workspaceId, best);
    return best;
  }

  /** Whether this instance is the workspace's home (always, outside a cluster). */
  holds(workspaceId: number): boolean {
    return this.homeOf(workspaceId) === this.url;
  }

  /**
   * A forward to `url` failed: it is not a home for the next lease, so requests stop waiting on it
   * (its workspaces are answered here or by their next home) until its heartbeat proves it back.
   */
  suspect(url: string): void {
    this.suspects.set(url, Date.now() + this.options.leaseMs);
    this.homes.clear();
    this.options.onChange();
  }

  private async beat(): Promise<void> {
    if (!this.joined) return;
    try {
      // An upsert, not an update: it also registers an instance whose first beat failed, or whose
      // row another process at the same URL replaced.
      await sql`insert into cluster_instances (url, instance_id, started_at, heartbeat_at)
        values (${this.url}, ${this.instanceId}, now(), now())
        on conflict (url) do update set heartbeat_at = excluded.heartbeat_at,
          instance_id = excluded.instance_id`.execute(this.options.db);
      await this.refresh();
    } catch (error) {
      // The database is down: keep the last list; the heartbeat retries on the next tick.
      this.log?.error({ err: error }, 'cluster heartbeat failed');
    }
  }

  private async refresh(): Promise<void> {
    const { rows } = await sql<{ url: string }>`select url from cluster_instances
      where heartbeat_at > now() - make_interval(secs => ${this.options.leaseMs / 1000})
      order by url`.execute(this.options.db);
    const live = rows.map((row) => row.url);
    // Always a candidate while joined, even if its own row lapsed during a database outage.
    if (this.joined && !live.includes(this.url)) live.push(this.url);
    live.sort();
    const now = Date.now();
    let expired = false;
    for (const [url, until] of this.suspects)
      if (until <= now) {
        this.suspects.delete(url);
        expired = true;
      }
    const changed = live.join('\n') !== this.live.join('\n');
    this.live = live;
    if (changed || expired) {
      this.homes.clear();
      this.options.onChange();
    }
  }
}
