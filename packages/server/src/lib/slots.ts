/**
 * A set of things in flight, each filed under a small integer (its slot) that is reused once it is
 * taken out: the statements a store thread has not yet answered (storage/sqlite-writer.ts,
 * storage/postgres-thread.ts, by the id sent with each), the requests still open that may have
 * recorded a change (lib/change-tracking.ts).
 *
 * Not a Map or a Set, on purpose, wherever entries come and go per request: a Map that takes and
 * loses an entry per statement rebuilds its hash table every few statements, and V8 leaves each
 * table it replaces pointing to the next (for iterators) with the entries it held. When one of
 * them had been promoted (a table alive across two scavenges), that dead old table kept every
 * later table alive through the scavenges, and with them every entry and all each one referred to
 * (a statement's resolve function, its promise, the rows it was resolved with) until the next
 * mark-compact: list_members promoted ~40 KB a request on PostgreSQL (docs/performance.md, sixth
 * round), and on SQLite the writer's Map and the open requests' Set were a quarter of the bytes the
 * mixed load promoted (seventeenth round). An array's slots are overwritten in place.
 *
 * A slot is reused: a late answer for a slot already given up (a store thread lost, its waiters
 * drained) must be dropped by the caller, or it would settle the slot's new occupant.
 */
export class Slots<T> {
  private readonly slots: (T | undefined)[] = [];
  private readonly free: number[] = [];
  /** How many are in. */
  size = 0;

  /** Files `item` under a free slot, which is returned. */
  add(item: T): number {
    const slot = this.free.pop() ?? this.slots.length;
    this.slots[slot] = item;
    this.size += 1;
    return slot;
  }

  get(slot: number): T | undefined {
    return this.slots[slot];
  }

  /** Takes the item out; its slot may be given to the next one added. */
  take(slot: number): T | undefined {
    const item = this.slots[slot];
    if (item === undefined) return undefined;
    this.slots[slot] = undefined;
    this.free.push(slot);
    this.size -= 1;
    return item;
  }

  /** Calls `visit` for each item in, in slot order. */
  forEach(visit: (item: T) => void): void {
    for (const item of this.slots) if (item !== undefined) visit(item);
  }

  /** Takes them all out (for example: the thread that would answer them is gone). */
  drain(): T[] {
    const items = this.slots.filter((item) => item !== undefined);
    this.slots.length = 0;
    this.free.length = 0;
    this.size = 0;
    return items;
  }
}
