/**
 * Decisions from an access snapshot (GET /api/access/snapshot): the snapshot's rows are the rows
 * the access index is built from (decisions.repository.ts), so this builds the same WorkspaceIndex
 * and EndUserSlice and answers with the same decisions service as the server. It is pure (no
 * database, no HTTP): the SDK's local authorizer (packages/sdk) bundles it, so the rule and its
 * explanations are written once, here in the server.
 */
import type {
  AccessBatchBody,
  AccessBatchResult,
  AccessCheck,
  AccessDecision,
  AccessSnapshot,
  AccessSnapshotChanges,
} from '@roster/contracts';
import {
  applyCollaboratorDelta,
  applyEndUserDelta,
  type CollaboratorDelta,
  type EndUserDelta,
} from './access-delta.js';
import type { RequestContext } from '../../lib/context.js';
import { AppError, reasonCode } from '../../lib/errors.js';
import { createDecisionsService } from './decisions.service.js';
import { EndUserSlice } from './end-user-index.js';
import { decodeSnapshotTables } from './snapshot-format.js';
import { WorkspaceIndex } from './workspace-index.js';

/** A decision the snapshot cannot answer, as the server's error body says it. */
export interface SnapshotCheckError {
  status: number;
  /** The error body's code (`bad_request`, `not_found`, …). */
  code: string;
  /** The error code the server logs (`member.not_found`, …). */
  reason: string;
  message: string;
}

export interface SnapshotDecisions {
  readonly workspaceId: number;
  readonly position: number;
  check(check: AccessCheck): AccessDecision;
  checkBatch(body: AccessBatchBody): AccessBatchResult[];
  /**
   * Applies the rows some changes touched (GET /api/access/snapshot/changes) with the server's own
   * reload code (access-delta.ts). False when they rebuild the workspace: load a new snapshot.
   */
  apply(changes: AccessSnapshotChanges): boolean;
}

/** Builds the workspace's index from the snapshot, as AccessIndex builds it from the database. */
export function indexFromSnapshot(snapshot: AccessSnapshot): {
  workspace: WorkspaceIndex;
  endUsers: EndUserSlice;
} {
  const { collaborators, endUsers: endUserRows } = decodeSnapshotTables(snapshot.tables);
  const { memberships, grants, ...rows } = collaborators;
  const workspace = new WorkspaceIndex(snapshot.workspace_id);
  workspace.load(rows);
  workspace.addMembershipRows(memberships);
  workspace.reserveGrants(grants.length);
  workspace.addGrantRows(grants);
  workspace.finishLoad();
  return { workspace, endUsers: new EndUserSlice(endUserRows) };
}

/**
 * The server's decisions over one snapshot, for a credential with every environment and project
 * (the only kind that may read a snapshot). A check the server would refuse throws an AppError
 * with the server's status and message; `toSnapshotCheckError` turns it into the API's error body.
 */
export function createSnapshotDecisions(
  snapshot: AccessSnapshot,
  options: { nowMs?: () => number } = {},
): SnapshotDecisions {
  const built = indexFromSnapshot(snapshot);
  const workspace = built.workspace;
  // Replaced when a change reloads the whole slice; the service reads it on each question.
  let endUsers = built.endUsers;
  const environmentTypes = new Set(workspace.environments.map((environment) => environment.type));
  const nowMs = options.nowMs ?? Date.now;
  const service = createDecisionsService({
    index: {
      workspace: (id: number) => (id === workspace.id ? workspace : undefined),
      endUsers: (id: number) => (id === workspace.id ? endUsers : undefined),
      nowMs,
      // A snapshot-built index holds its one workspace from the start: nothing to wait for.
      ready: () => undefined,
      readyEndUsers: () => undefined,
    },
  });
  const ctx: RequestContext = {
    workspaceId: workspace.id,
    actor: { type: 'api_client', id: null, name: 'local authorizer' },
    scope: {
      environmentTypes,
      projectIds: null,
    },
  };
  return {
    workspaceId: workspace.id,
    position: snapshot.position,
    check: (check) => service.check(ctx, check),
    checkBatch: (body) => service.checkBatch(ctx, body),
    apply(changes) {
      if (changes.workspace_id !== workspace.id)
        throw new Error(
          `access snapshot: changes of workspace ${changes.workspace_id} for workspace ${workspace.id}`,
        );
      if (changes.rebuild) return false;
      // The server wrote these with readCollaboratorDelta / readEndUserDelta (access-index.ts),
      // in the format this same version reads; the casts restate that.
      if (changes.collaborators !== null)
        applyCollaboratorDelta(workspace, changes.collaborators as CollaboratorDelta);
      if (changes.end_users !== null)
        endUsers = applyEndUserDelta(endUsers, changes.end_users as EndUserDelta);
      return true;
    },
  };
}

/** The error body the server would have answered for an error a check threw. */
export function toSnapshotCheckError(error: unknown): SnapshotCheckError | undefined {
  if (!(error instanceof AppError)) return undefined;
  return {
    status: error.status,
    code: reasonCode(error.status),
    reason: error.code,
    message: error.message,
  };
}
