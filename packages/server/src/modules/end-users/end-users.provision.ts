/**
 * The one way an end user comes into being, whoever asks: the API (created by hand or invited),
 * SSO (just-in-time on first sign-in) and SCIM (provisioned by an identity provider). It writes
 * the user, its environment access and its explicit group memberships, in the caller's
 * transaction; the caller checks what it must first (email free, groups of those environments)
 * and records the audit event its action names, in the same transaction.
 */
import type { Executor } from '../../storage/database.js';
import { toFlag } from '../../storage/json.js';
import { insertGroupMembers } from '../memberships/memberships.repository.js';
import { insertEndUser, insertEnvironmentAccess, type EndUserRow } from './end-users.repository.js';

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
  await insertEnvironmentAccess(trx, user.workspaceId, row.id, [...user.environmentIds], user.now);
  for (const groupId of user.groupIds ?? [])
    await insertGroupMembers(trx, user.workspaceId, groupId, [row.id], user.now);
  return row;
}
