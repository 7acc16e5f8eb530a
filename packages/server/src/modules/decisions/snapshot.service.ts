/**
 * GET /api/access/snapshot: one workspace's access data, as the rows the access index is built
 * from, with the change-log position it reflects. The SDK's local authorizer builds the server's
 * own index from it (snapshot-index.ts) and keeps it current from the change stream. The whole
 * workspace's access is in it (every member's email, every grant), so only a credential with every
 * environment and project may read it.
 */
import type { AccessSnapshot, AccessSnapshotChanges } from '@roster/contracts';
import type { Db, Dialect, Executor } from '../../storage/database.js';
import { isoNow, type Clock } from '../../lib/clock.js';
import type { RequestContext } from '../../lib/context.js';
import { notFound } from '../../lib/errors.js';
import { requireWorkspaceAdmin } from '../../lib/scope.js';
import { findLastEventId } from '../audit/audit.repository.js';
import { readChangeEvents } from '../audit/change-feed.js';
import {
  dirtyFor,
  forSnapshotChanges,
  readCollaboratorDelta,
  readEndUserDelta,
} from './access-index.js';
import {
  LOAD_PAGE_SIZE,
  loadEndUserSliceRows,
  loadGrantPage,
  loadMembershipPage,
  loadWorkspaceRows,
  type GrantIndexRow,
  type MembershipIndexRow,
} from './decisions.repository.js';
import { encodeSnapshotTables } from './snapshot-format.js';

async function readSnapshot(
  db: Executor,
  ctx: RequestContext,
  generatedAt: string,
): Promise<AccessSnapshot> {
  // The position first: a change after it is in the stream after it (applying it twice is harmless).
  const position = await findLastEventId(db);
  const rows = await loadWorkspaceRows(db, ctx.workspaceId);
  if (rows === undefined) throw notFound('workspace.not_found', 'Workspace not found');
  requireWorkspaceAdmin(
    ctx,
    rows.environments.map((environment) => environment.type),
  );
  const memberships: MembershipIndexRow[] = [];
  for (let after = 0; ;) {
    const page = await loadMembershipPage(db, ctx.workspaceId, after);
    for (const row of page)
      memberships.push({
        group_id: row.group_id,
        member_id: row.member_id,
        expires_at: row.expires_at,
      });
    const last = page.at(-1);
    if (last === undefined || page.length < LOAD_PAGE_SIZE) break;
    after = last.id;
  }
  const grants: GrantIndexRow[] = [];
  for (let after = ''; ;) {
    const page = await loadGrantPage(db, ctx.workspaceId, after);
    grants.push(...page);
    const last = page.at(-1);
    if (last === undefined || page.length < LOAD_PAGE_SIZE) break;
    after = last.id;
  }
  return {
    format: 1,
    workspace_id: ctx.workspaceId,
    position,
    generated_at: generatedAt,
    tables: encodeSnapshotTables({
      collaborators: { ...rows, memberships, grants },
      endUsers: await loadEndUserSliceRows(db, ctx.workspaceId),
    }),
  };
}

/**
 * The rows the changes with these audit event IDs touched in the caller's workspace, as the
 * server's own index reloads them (the reload table, dirtyFor in access-index.ts), read now: each
 * event the caller names has committed (it came from the stream), so the rows reflect it. Events
 * of other workspaces, or unknown IDs, are ignored.
 */
async function readChanges(
  db: Db,
  ctx: RequestContext,
  ids: readonly number[],
): Promise<AccessSnapshotChanges> {
  const environments = await db
    .selectFrom('environments')
    .select('type')
    .where('workspace_id', '=', ctx.workspaceId)
    .execute();
  requireWorkspaceAdmin(
    ctx,
    environments.map((environment) => environment.type),
  );
  const events = (await readChangeEvents(db, ids)).filter(
    (event) => event.workspaceId === ctx.workspaceId,
  );
  const dirty = forSnapshotChanges(dirtyFor(events));
  const base = { format: 1 as const, workspace_id: ctx.workspaceId };
  if (dirty.rebuild) return { ...base, rebuild: true, collaborators: null, end_users: null };
  const [collaborators, endUsers] = await Promise.all([
    readCollaboratorDelta(db, ctx.workspaceId, dirty),
    readEndUserDelta(db, ctx.workspaceId, dirty),
  ]);
  return { ...base, rebuild: false, collaborators, end_users: endUsers };
}

export function createSnapshotService(deps: { db: Db; dialect: Dialect; clock: Clock }) {
  return {
    changes(ctx: RequestContext, ids: readonly number[]): Promise<AccessSnapshotChanges> {
      return readChanges(deps.db, ctx, ids);
    },
    /** Read in one transaction (repeatable read on PostgreSQL), so the rows agree with each other. */
    snapshot(ctx: RequestContext): Promise<AccessSnapshot> {
      const generatedAt = isoNow(deps.clock);
      const transaction = deps.db.transaction();
      return (
        deps.dialect === 'postgres' ? transaction.setIsolationLevel('repeatable read') : transaction
      ).execute((trx) => readSnapshot(trx, ctx, generatedAt));
    },
  };
}
export type SnapshotService = ReturnType<typeof createSnapshotService>;
