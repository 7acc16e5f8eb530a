/**
 * The one way an end user comes into being, whoever asks: the API (created by hand or invited),
 * SSO (just-in-time on first sign-in) and SCIM (provisioned by an identity provider). It writes
 * the user, its environment access and its explicit group memberships, in the caller's
 * transaction; the caller checks what it must first (email free, groups of those environments)
 * and records the audit event its action names, in the same transaction.
 */
import type { Executor } from '../../storage/database.js';
import type { CompiledQuery } from 'kysely';
import { toFlag } from '../../storage/json.js';
import { runTogether } from '../../storage/pipeline.js';
import { groupMembersStatement } from '../memberships/memberships.repository.js';
import {
  environmentAccessStatement,
  insertEndUser,
  type EndUserRow,
} from './end-users.repository.js';

export interface NewEndUser {
  workspaceId: number;
  name: string;
  /** As given; its lower-case form is the key emails are unique and looked up by. */
  email: string;
  avatarUrl?: string | null;
  externalId?: string | null;
  status: 'active' | 'invited' | 'deactivated';
  mfaEnabled?: boolean;
  source: 'manual' | 'invitation' | 'sso' | 'scim';
  environmentIds: readonly number[];
  /** Explicit groups (of the user's environments: the caller has checked); Everyone is implicit. */
  groupIds?: readonly number[];
  now: string;
}

export async function provisionEndUser(trx: Executor, user: NewEndUser): Promise<EndUserRow> {
  const { row, rest } = await provisionEndUserRow(trx, user);
  if (rest.length > 0) await runTogether(trx, rest);
  return row;
}

/**
 * provisionEndUser in two parts: the user's row is written now, and the rest (its environment
 * access and group memberships, which need its ID) is returned for the caller to send with its
 * own writes, in one round trip with them (storage/pipeline.ts, runTogether).
 */
export async function provisionEndUserRow(
  trx: Executor,
  user: NewEndUser,
): Promise<{ row: EndUserRow; rest: CompiledQuery[] }> {
  const row = await insertEndUser(trx, {
    workspace_id: user.workspaceId,
    name: user.name,
    email: user.email,
    email_key: user.email.toLowerCase(),
    avatar_url: user.avatarUrl ?? null,
    external_id: user.externalId ?? null,
    status: user.status,
    mfa_enabled: toFlag(user.mfaEnabled ?? false),
    source: user.source,
    created_at: user.now,
    updated_at: user.now,
  });
  const rest = [
    environmentAccessStatement(trx, user.workspaceId, row.id, user.environmentIds, user.now),
    ...(user.groupIds ?? []).map((groupId) =>
      groupMembersStatement(trx, user.workspaceId, groupId, [row.id], user.now),
    ),
  ].filter((statement) => statement !== undefined);
  return { row, rest };
}
