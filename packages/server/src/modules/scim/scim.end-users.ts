/**
 * Target `end_users`: a SCIM User is an end user (email = userName, source `scim`) with access to
 * the connection's environment; a SCIM Group is an end-user group of that environment,
 * `managed_by: external`, whose memberships carry `source: external`. `active: false`
 * deactivates the user (status `deactivated`: denied, data kept); DELETE removes it.
 */
import { sql } from 'kysely';
import type { Executor } from '../../storage/database.js';
import { mapRead } from '../../storage/pipeline.js';
import { prepared } from '../../storage/prepared.js';
import {
  deleteEndUser,
  deleteEnvironmentAccess,
  environmentAccessStatement,
  findEndUserByEmailKey,
  planEndUserByEmailKey,
} from '../end-users/end-users.repository.js';
import {
  deleteEndUserGroup,
  findEndUserGroupByNameKey,
  insertEndUserGroup,
  updateEndUserGroup,
} from '../end-user-groups/end-user-groups.repository.js';
import { provisionEndUserRow } from '../end-users/end-users.provision.js';
import { ScimError } from './scim.errors.js';
import type { UserFields } from './scim.resources.js';
import { chunks, countOtherLinks } from './scim.repository.js';
import {
  parseIntegerId,
  type PopulationDeps,
  type Ref,
  type ScimPopulation,
} from './scim.population.js';

/**
 * A group PATCH's added members, compiled once per number of members (storage/prepared.ts: a
 * `lists` parameter; the mixed load adds one at a time).
 */
const addGroupMembers = prepared(
  (db, p: { workspaceId: number; groupId: number; endUserIds: number[]; createdAt: string }) =>
    db
      .insertInto('end_user_group_members')
      .values(
        p.endUserIds.map((id) => ({
          workspace_id: p.workspaceId,
          group_id: p.groupId,
          end_user_id: id,
          created_at: p.createdAt,
          source: 'external',
        })),
      )
      // Already a member (by hand or by an earlier request): the identity provider now owns it.
      .onConflict((oc) =>
        oc.columns(['group_id', 'end_user_id']).doUpdateSet({ source: 'external' }),
      ),
  { lists: ['endUserIds'] },
);

export function endUserPopulation(deps: PopulationDeps): ScimPopulation {
  const { now } = deps;

  /** end_users follows the SCIM user: name, email (= userName), status from `active`. */
  async function syncEndUser(trx: Executor, endUserId: number, fields: UserFields) {
    const endUser = await trx
      .selectFrom('end_users')
      .select(['status'])
      .where('id', '=', endUserId)
      .executeTakeFirstOrThrow();
    let status = endUser.status;
    if (!fields.active && (status === 'active' || status === 'invited')) status = 'deactivated';
    if (fields.active && status === 'deactivated') status = 'active';
    await trx
      .updateTable('end_users')
      .set({
        name: fields.personName,
        email: fields.userName,
        email_key: fields.userName.toLowerCase(),
        external_id: fields.externalId,
        status,
        updated_at: now(),
      })
      .where('id', '=', endUserId)
      .execute();
    return status;
  }

  /** Deletes the named memberships (set-based: its cost is the IDs named, not the group). */
  async function removeMembers(trx: Executor, groupId: string, ids: number[]) {
    const deleted = new Set<number>();
    for (const slice of chunks(ids)) {
      if (slice.length === 0) continue;
      const rows = await trx
        .deleteFrom('end_user_group_members')
        .where('group_id', '=', Number(groupId))
        .where('end_user_id', 'in', slice)
        .returning('end_user_id')
        .execute();
      for (const row of rows) deleted.add(row.end_user_id);
    }
    // In the order asked, once each: what the audit event records.
    return [...new Set(ids)].filter((id) => deleted.has(id));
  }

  return {
    userTarget: 'end_user',
    groupTarget: 'end_user_group',
    userColumn: 'end_user_id',
    groupColumn: 'end_user_group_id',
    userFilter: {
      kind: 'User',
      dialect: deps.dialect,
      idColumn: 'su.end_user_id',
      idIsInteger: true,
      groupExists: (groupId) => {
        const id = parseIntegerId(groupId);
        if (groupId !== '' && id === undefined) return sql<boolean>`1 = 0`;
        return sql<boolean>`exists (select 1 from end_user_group_members m inner join scim_groups g on g.end_user_group_id = m.group_id and g.connection_id = su.connection_id where m.end_user_id = su.end_user_id${id === undefined ? sql`` : sql` and m.group_id = ${id}`})`;
      },
    },
    groupFilter: {
      kind: 'Group',
      dialect: deps.dialect,
      idColumn: 'sg.end_user_group_id',
      idIsInteger: true,
      memberExists: (memberId) => {
        const id = parseIntegerId(memberId);
        if (memberId === '')
          return sql<boolean>`exists (select 1 from end_user_group_members m where m.group_id = sg.end_user_group_id)`;
        return id === undefined
          ? sql<boolean>`1 = 0`
          : sql<boolean>`exists (select 1 from end_user_group_members m where m.group_id = sg.end_user_group_id and m.end_user_id = ${id})`;
      },
    },
    parseGroupId: (raw) => (parseIntegerId(raw) === undefined ? undefined : raw),

    async groupsOfUsers(db, connection, endUserIds) {
      const result = new Map<number, Ref[]>();
      for (const slice of chunks(endUserIds)) {
        if (slice.length === 0) continue;
        const rows = await db
          .selectFrom('end_user_group_members as m')
          .innerJoin('scim_groups as sg', 'sg.end_user_group_id', 'm.group_id')
          .select(['m.end_user_id', 'sg.end_user_group_id', 'sg.display_name'])
          .where('sg.connection_id', '=', connection.id)
          .where('m.end_user_id', 'in', slice)
          .orderBy('sg.id')
          .execute();
        for (const row of rows) {
          const list = result.get(row.end_user_id) ?? [];
          list.push({ id: String(row.end_user_group_id), display: row.display_name });
          result.set(row.end_user_id, list);
        }
      }
      return result;
    },

    planProvisionUser(trx, connection, fields) {
      const key = fields.userName.toLowerCase();
      return mapRead(
        planEndUserByEmailKey(trx, connection.workspace_id, key),
        (found) => async () => {
          // An end user with this email that this connection does not manage yet is adopted: the
          // identity provider takes it over (docs/scim.md), rather than failing the whole sync.
          const details = { name: fields.personName, email: fields.userName, source: 'scim' };
          if (found === undefined) {
            const { row, rest } = await provisionEndUserRow(trx, {
              workspaceId: connection.workspace_id,
              name: fields.personName,
              email: fields.userName,
              externalId: fields.externalId,
              status: fields.active ? 'active' : 'deactivated',
              source: 'scim',
              environmentIds: [connection.environment_id],
              now: now(),
            });
            return { personId: row.id, adopted: false, rest, details };
          }
          await syncEndUser(trx, found.id, fields);
          const access = environmentAccessStatement(
            trx,
            connection.workspace_id,
            found.id,
            [connection.environment_id],
            now(),
          );
          return {
            personId: found.id,
            adopted: true,
            rest: access === undefined ? [] : [access],
            details,
          };
        },
      );
    },

    async syncUser(trx, connection, existing, endUserId, fields) {
      const key = fields.userName.toLowerCase();
      if (key !== existing.user_name_key) {
        const other = await findEndUserByEmailKey(trx, connection.workspace_id, key);
        if (other !== undefined && other.id !== endUserId)
          throw new ScimError(409, `userName ${fields.userName} is already taken`, 'uniqueness');
      }
      const status = await syncEndUser(trx, endUserId, fields);
      return { details: { name: fields.personName, status } };
    },

    async deprovisionUser(trx, connection, existing, endUserId) {
      const others = await countOtherLinks(trx, 'end_user_id', endUserId, connection.id);
      if (others === 0) {
        await deleteEndUser(trx, endUserId);
        return { deleted: true };
      }
      await trx
        .deleteFrom('end_user_group_members')
        .where('end_user_id', '=', endUserId)
        .where('group_id', 'in', (eb) =>
          eb
            .selectFrom('end_user_groups')
            .select('id')
            .where('environment_id', '=', connection.environment_id),
        )
        .execute();
      await deleteEnvironmentAccess(trx, endUserId, connection.environment_id);
      await trx.deleteFrom('scim_users').where('id', '=', existing.id).execute();
      return { deleted: false };
    },

    async membersOf(db, connection, groupId) {
      const rows = await db
        .selectFrom('end_user_group_members as m')
        .innerJoin('scim_users as su', (join) =>
          join
            .onRef('su.end_user_id', '=', 'm.end_user_id')
            .on('su.connection_id', '=', connection.id),
        )
        .select(['m.end_user_id', 'su.display_name', 'su.user_name'])
        .where('m.group_id', '=', Number(groupId))
        .orderBy('m.created_at')
        .orderBy('m.end_user_id')
        .execute();
      return rows.map((r) => ({
        id: String(r.end_user_id),
        display: r.display_name ?? r.user_name,
      }));
    },

    async createGroup(trx, connection, name) {
      const existing = await findEndUserGroupByNameKey(
        trx,
        connection.workspace_id,
        connection.environment_id,
        name.toLowerCase(),
      );
      if (existing !== undefined) {
        const linked = await trx
          .selectFrom('scim_groups')
          .select('connection_id')
          .where('end_user_group_id', '=', existing.id)
          .executeTakeFirst();
        if (linked !== undefined || existing.system === 1)
          throw new ScimError(409, `A group named ${name} already exists`, 'uniqueness');
        await updateEndUserGroup(trx, existing.id, { managed_by: 'external', updated_at: now() });
        return { groupId: String(existing.id), adopted: true };
      }
      const group = await insertEndUserGroup(trx, {
        workspace_id: connection.workspace_id,
        environment_id: connection.environment_id,
        name,
        name_key: name.toLowerCase(),
        description: null,
        managed_by: 'external',
        roles: '[]',
        system: 0,
        created_at: now(),
        updated_at: now(),
      });
      return { groupId: String(group.id), adopted: false };
    },

    async renameGroup(trx, connection, groupId, name) {
      const clash = await findEndUserGroupByNameKey(
        trx,
        connection.workspace_id,
        connection.environment_id,
        name.toLowerCase(),
      );
      if (clash !== undefined && clash.id !== Number(groupId))
        throw new ScimError(409, `A group named ${name} already exists`, 'uniqueness');
      await updateEndUserGroup(trx, Number(groupId), {
        name,
        name_key: name.toLowerCase(),
        updated_at: now(),
      });
    },

    async deleteGroup(trx, groupId) {
      await deleteEndUserGroup(trx, Number(groupId));
    },

    async addMembers(trx, connection, groupId, ids) {
      const at = now();
      for (const slice of chunks(ids)) {
        if (slice.length === 0) continue;
        await addGroupMembers.run(trx, {
          workspaceId: connection.workspace_id,
          groupId: Number(groupId),
          endUserIds: slice,
          createdAt: at,
        });
      }
    },

    removeMembers,

    async currentMemberIds(trx, groupId) {
      const rows = await trx
        .selectFrom('end_user_group_members')
        .select('end_user_id')
        .where('group_id', '=', Number(groupId))
        .execute();
      return rows.map((r) => r.end_user_id);
    },

    async releaseGroups(trx, connectionId) {
      const groupIds = (
        await trx
          .selectFrom('scim_groups')
          .select('end_user_group_id')
          .where('connection_id', '=', connectionId)
          .execute()
      ).flatMap((g) => (g.end_user_group_id === null ? [] : [g.end_user_group_id]));
      for (const slice of chunks(groupIds)) {
        await trx
          .updateTable('end_user_groups')
          .set({ managed_by: 'manual', updated_at: now() })
          .where('id', 'in', slice)
          .execute();
        await trx
          .updateTable('end_user_group_members')
          .set({ source: 'manual' })
          .where('group_id', 'in', slice)
          .execute();
      }
    },
  };
}
