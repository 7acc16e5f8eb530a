/**
 * Work that must follow a transaction's COMMIT, and must not happen if the transaction does not
 * commit: `afterCommit(trx, hook)`.
 *
 * Why: each write notes the ID of the audit event it inserted for its request's own index sync
 * (lib/change-tracking.ts), and the change feed then treats that ID as read
 * (modules/audit/change-feed.ts, applyOwn). A transaction that rolls back after its audit insert
 * (a COMMIT refused on a full disk, a statement failing after the insert) left its ID noted. On
 * SQLite a rolled-back insert gives its ID back (AUTOINCREMENT's counter rolls back with it), so
 * the next write's event got the same ID, and the feed passed over it as already applied: that
 * write never reached that instance's access index until a restart. Notes
 * are now kept with the transaction and made when it commits; a rollback drops them.
 *
 * Kept per connection (the object Kysely hands the driver for each transaction), by the driver
 * decorator every store uses (storage/connect.ts): `transactionBegun`, `transactionCommitted`,
 * `transactionEnded`, and the savepoint pair.
 */
import type { DatabaseConnection, QueryExecutor } from 'kysely';

interface OpenTransaction {
  readonly hooks: (() => void)[];
  /** How many hooks were registered when each savepoint was set. */
  readonly savepoints: Map<string, number>;
}

const open = new WeakMap<DatabaseConnection, OpenTransaction>();

export function transactionBegun(connection: DatabaseConnection): void {
  open.set(connection, { hooks: [], savepoints: new Map() });
}

/**
 * Runs the transaction's hooks, in the order they were registered. The COMMIT is done: a hook
 * that throws must not make it look failed (the caller would roll back a committed transaction),
 * so its error is a warning and the other hooks still run.
 */
export function transactionCommitted(connection: DatabaseConnection): void {
  const transaction = open.get(connection);
  open.delete(connection);
  if (transaction === undefined) return;
  for (const hook of transaction.hooks) {
    try {
      hook();
    } catch (error) {
      process.emitWarning(`A hook after a COMMIT failed: ${String(error)}`);
    }
  }
}

/** A transaction rolled back (or whose COMMIT failed): its hooks never run. */
export function transactionEnded(connection: DatabaseConnection): void {
  open.delete(connection);
}

export function savepointSet(connection: DatabaseConnection, name: string): void {
  const transaction = open.get(connection);
  transaction?.savepoints.set(name, transaction.hooks.length);
}

/** What was registered after the savepoint was rolled back with it. */
export function savepointRolledBack(connection: DatabaseConnection, name: string): void {
  const transaction = open.get(connection);
  const mark = transaction?.savepoints.get(name);
  if (transaction !== undefined && mark !== undefined) transaction.hooks.length = mark;
}

/**
 * Runs `hook` once what `db` has written is committed: at once outside a transaction (each
 * statement commits on its own), at the COMMIT of the transaction `db` is, never if it rolls
 * back.
 */
export async function afterCommit(
  db: { readonly isTransaction: boolean; getExecutor(): Pick<QueryExecutor, 'provideConnection'> },
  hook: () => void,
): Promise<void> {
  if (!db.isTransaction) {
    hook();
    return;
  }
  await db.getExecutor().provideConnection((connection) => {
    const transaction = open.get(connection);
    // A transaction begun outside Kysely's transaction() (none in Roster) is not tracked: as before.
    if (transaction === undefined) hook();
    else transaction.hooks.push(hook);
    return Promise.resolve();
  });
}
