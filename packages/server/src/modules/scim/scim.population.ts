/**
 * What a SCIM connection's target population is to the SCIM service: the one interface the
 * end-user adapter (scim.end-users.ts) and the collaborator adapter (scim.collaborators.ts)
 * implement. scim.service.ts owns the protocol (parsing, PATCH, versions, transactions, audit);
 * an adapter owns what a SCIM user and group are in Roster and how memberships are stored.
 *
 * IDs: a SCIM user's id is its person's integer ID (end user or member); a SCIM group's id is
 * its Roster group's ID, passed around as a string (end-user groups have integer IDs,
 * collaborator groups `am-…` strings).
 */
import type { CompiledQuery } from 'kysely';
import type { Dialect, Executor } from '../../storage/database.js';
import type { PlannedRead } from '../../storage/pipeline.js';
import type { FilterTarget } from './scim.filter.js';
import type { UserFields } from './scim.resources.js';
import type { ScimConnectionRow, ScimUserRow } from './scim.repository.js';

export interface PopulationDeps {
  dialect: Dialect;
  now: () => string;
}

/** A group a user is in, or a member of a group, before the service renders its `$ref`. */
export interface Ref {
  id: string;
  display: string;
}

/**
 * The write of planProvisionUser, once its person is looked up: the person it made or adopted,
 * and the person's writes left to send (`rest`: they need nothing back), which the service sends
 * with the SCIM user's insert and its event, in one round trip.
 */
export type ProvisionUser = () => Promise<
  UserChange & { personId: number; adopted: boolean; rest: readonly CompiledQuery[] }
>;

/** What an adapter's user write did: audit details, and the SCIM row's adapter-owned columns. */
export interface UserChange {
  /** Merged into the audit event's `after`. */
  details: Record<string, unknown>;
  /** collaborators: the role to restore on reactivation (scim_users.saved_role). */
  savedRole?: string | null;
}

export interface ScimPopulation {
  /** Audit target types, also the prefix of the audit actions (`member.deactivated`…). */
  userTarget: 'end_user' | 'member';
  groupTarget: 'end_user_group' | 'user_group';
  /** The scim_users / scim_groups column holding the person's or group's ID. */
  userColumn: 'end_user_id' | 'member_id';
  groupColumn: 'end_user_group_id' | 'collaborator_group_id';
  userFilter: FilterTarget;
  groupFilter: FilterTarget;
  /** A group ID as the adapter stores it, or undefined when `raw` cannot name one. */
  parseGroupId(raw: string): string | undefined;

  /** The connection's groups each person belongs to (the read-only `groups` attribute). */
  groupsOfUsers(
    db: Executor,
    connection: ScimConnectionRow,
    personIds: number[],
  ): Promise<Map<number, Ref[]>>;
  /**
   * Creates the person, or adopts the one with this email that the connection does not manage
   * yet, and gives it access to the connection's environment. In two steps: the lookup of the
   * person by email is a read the service sends with its own first reads (readTogether), and
   * what it finishes with writes the person.
   */
  planProvisionUser(
    trx: Executor,
    connection: ScimConnectionRow,
    fields: UserFields,
  ): PlannedRead<ProvisionUser>;
  /** Applies a replaced or patched SCIM user to the person (409 `uniqueness` on an email clash). */
  syncUser(
    trx: Executor,
    connection: ScimConnectionRow,
    existing: ScimUserRow,
    personId: number,
    fields: UserFields,
  ): Promise<UserChange>;
  /**
   * DELETE /Users: the person goes with their grants and memberships; a person another
   * connection also manages only loses this connection's environment (`deleted: false`).
   */
  deprovisionUser(
    trx: Executor,
    connection: ScimConnectionRow,
    existing: ScimUserRow,
    personId: number,
  ): Promise<{ deleted: boolean }>;

  /** Members of a group that are users of the connection (the identity provider's view). */
  membersOf(db: Executor, connection: ScimConnectionRow, groupId: string): Promise<Ref[]>;
  /** Creates the Roster group, or adopts a manual one of that name no connection manages. */
  createGroup(
    trx: Executor,
    connection: ScimConnectionRow,
    name: string,
  ): Promise<{ groupId: string; adopted: boolean }>;
  renameGroup(
    trx: Executor,
    connection: ScimConnectionRow,
    groupId: string,
    name: string,
  ): Promise<void>;
  deleteGroup(trx: Executor, groupId: string): Promise<void>;
  /** Row inserts, `source: external`; a membership already there (by hand) becomes external. */
  addMembers(
    trx: Executor,
    connection: ScimConnectionRow,
    groupId: string,
    personIds: number[],
  ): Promise<void>;
  /** Deletes these memberships; returns the IDs that were members (in the order given). */
  removeMembers(trx: Executor, groupId: string, personIds: number[]): Promise<number[]>;
  /** The whole group's member IDs: only for what changes the whole group (replace, remove all). */
  currentMemberIds(trx: Executor, groupId: string): Promise<number[]>;
  /** The connection is deleted: its groups and their memberships become manual. */
  releaseGroups(trx: Executor, connectionId: string): Promise<void>;
}

/** `123` names person 123; anything else names nobody. */
export function parseIntegerId(raw: string): number | undefined {
  return /^\d{1,9}$/.test(raw) ? Number(raw) : undefined;
}
