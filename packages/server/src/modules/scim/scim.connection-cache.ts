/**
 * SCIM connections by token hash, so that authenticating a SCIM request is a hash and a map lookup
 * instead of a query (a statement on every SCIM request: docs/performance.md, "Sixth round").
 * Only successes are cached (a new or rotated token works at once). Entries leave when this
 * instance updates, rotates or deletes the connection (before and after the write), and, for
 * writes made by another instance, when the change feed delivers the `scim_connection` event
 * (the service subscribes: evictChanged), so a rotated or deleted connection's old token stops
 * working on every instance within the feed's sync bound, as an API client's does
 * (docs/decisions.md).
 */
import type { ChangeEvent } from '../audit/change-feed.js';
import type { ScimConnectionRow } from './scim.repository.js';

/** Above this many cached tokens the cache starts over (a bound on memory, not a working-set policy). */
const MAX_CACHED_CONNECTIONS = 10_000;

export class ScimConnectionCache {
  private readonly byHash = new Map<string, ScimConnectionRow>();
  /** Bumped by every eviction: a lookup that started before one must not fill the cache. */
  private generation = 0;

  /** The generation to hand back to `set` with the row a lookup read. */
  begin(): number {
    return this.generation;
  }

  get(tokenHash: string, connectionId: string): ScimConnectionRow | undefined {
    const row = this.byHash.get(tokenHash);
    return row !== undefined && row.id === connectionId ? row : undefined;
  }

  set(tokenHash: string, row: ScimConnectionRow, generation: number): void {
    if (generation !== this.generation) return;
    if (this.byHash.size >= MAX_CACHED_CONNECTIONS) this.byHash.clear();
    this.byHash.set(tokenHash, row);
  }

  /** Drops a connection's entries (every entry when the ID is unknown). */
  evict(connectionId: string | null): void {
    this.generation += 1;
    if (connectionId === null) {
      this.byHash.clear();
      return;
    }
    for (const [hash, row] of this.byHash) if (row.id === connectionId) this.byHash.delete(hash);
  }

  /** Drops every connection of a workspace. */
  evictWorkspace(workspaceId: number): void {
    this.generation += 1;
    for (const [hash, row] of this.byHash)
      if (row.workspace_id === workspaceId) this.byHash.delete(hash);
  }

  /**
   * The change feed's subscriber: every `scim_connection` event (updated, token rotated, deleted,
   * by this instance or another) drops that connection; a role's change drops the workspace's
   * connections, whose default role the database may have set to null with it (the foreign key's
   * ON DELETE SET NULL, no write to the connection); an event whose target type this version
   * does not know (written by another version) drops every connection.
   */
  evictChanged(events: readonly ChangeEvent[]): void {
    for (const event of events) {
      if (event.targetType === 'scim_connection') this.evict(event.targetId);
      else if (event.targetType === 'role' || event.targetType === 'environment_role')
        this.evictWorkspace(event.workspaceId);
      else if (event.targetType === null) this.evict(null);
    }
  }
}
