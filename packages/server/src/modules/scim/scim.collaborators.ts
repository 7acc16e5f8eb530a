/**
 * Target `collaborators`: a SCIM User is a collaborator (member) of the workspace with the
 * connection's default role in its environment (no invitation email); a SCIM Group is a
 * collaborator group, `managed_by: external`, whose memberships carry `source: external`.
 *
 * `active: false` takes the collaborator's access in that environment away and keeps everything
 * else: their role there becomes "No access" and the role they had is kept in
 * scim_users.saved_role; `active: true` gives it back. DELETE removes the collaborator as
 * DELETE /api/members/:id does (members.repository deleteMember). docs/scim.md has the table.
 */
import { sql } from 'kysely';
import { NO_ACCESS_ROLE } from '@roster/contracts';
import type { Executor } from '../../storage/database.js';
import { fromJson, toJson } from '../../storage/json.js';
import { mapRead } from '../../storage/pipeline.js';
import { newPrefixedId } from '../../lib/ids.js';
import {
  deleteGroup,
  findGroupByNameKey,
  insertGroup,
  updateGroup,
} from '../groups/groups.repository.js';
import {
  deleteMember,
  findMemberByEmailKey,
  planMemberByEmailKey,
  insertMember,
  setMemberEnvironmentRoles,
  toRoleRow,
} from '../members/members.repository.js';
import { withNoAccessDefaults } from '../roles/roles.service.js';
import { ScimError } from './scim.errors.js';
import {
  chunks,
  countOtherLinks,
  findScimUser,
  type ScimConnectionRow,
} from './scim.repository.js';
import {
  parseIntegerId,
  type PopulationDeps,
  type Ref,
  type ScimPopulation,
} from './scim.population.js';

/** A role in one environment, as member_environment_roles holds it (and saved_role stores it). */
interface EnvironmentRole {
  role_type: string;
  legacy_role_id: number | null;
  environment_role_id: number | null;
}

const COLLABORATOR_GROUP_ID = /^[A-Za-z0-9_-]{1,64}$/;

export function collaboratorPopulation(deps: PopulationDeps): ScimPopulation {
  const { now } = deps;

  async function roleIn(trx: Executor, memberId: number, environmentId: number) {
    return trx
      .selectFrom('member_environment_roles')
      .select(['role_type', 'legacy_role_id', 'environment_role_id'])
      .where('member_id', '=', memberId)
      .where('environment_id', '=', environmentId)
      .executeTakeFirst();
  }

  async function noAccess(trx: Executor, connection: ScimConnectionRow): Promise<EnvironmentRole> {
    const all = await withNoAccessDefaults(trx, connection.workspace_id, []);
    const legacyRoleId = all[0]?.legacyRoleId ?? null;
    return {
      role_type: 'privilege_group',
      legacy_role_id: legacyRoleId,
      environment_role_id: null,
    };
  }

  const isNoAccess = (role: EnvironmentRole | undefined, none: EnvironmentRole) =>
    role === undefined ||
    (role.role_type !== 'environment' && role.legacy_role_id === none.legacy_role_id);

  /** The connection's default role; refused when it was deleted since (docs/scim.md). */
  function defaultRole(connection: ScimConnectionRow): EnvironmentRole {
    const environmentRole = connection.default_role_type === 'environment';
    const id = environmentRole
      ? connection.default_environment_role_id
      : connection.default_legacy_role_id;
    if (id === null) {
      throw new ScimError(
        400,
        `This connection's default role ${connection.default_role ?? ''} no longer exists: an admin must set another (PATCH /api/scim_connections/${connection.id})`,
        'invalidValue',
      );
    }
    return environmentRole
      ? { role_type: 'environment', legacy_role_id: null, environment_role_id: id }
      : { role_type: 'privilege_group', legacy_role_id: id, environment_role_id: null };
  }

  async function roleExists(trx: Executor, workspaceId: number, role: EnvironmentRole) {
    const found =
      role.role_type === 'environment'
        ? await trx
            .selectFrom('environment_roles')
            .select('id')
            .where('workspace_id', '=', workspaceId)
            .where('id', '=', role.environment_role_id ?? -1)
            .executeTakeFirst()
        : await trx
            .selectFrom('legacy_roles')
            .select('id')
            .where('workspace_id', '=', workspaceId)
            .where('id', '=', role.legacy_role_id ?? -1)
            .executeTakeFirst();
    return found !== undefined;
  }

  async function roleName(trx: Executor, role: EnvironmentRole): Promise<string | null> {
    const row =
      role.role_type === 'environment'
        ? await trx
            .selectFrom('environment_roles')
            .select('name')
            .where('id', '=', role.environment_role_id ?? -1)
            .executeTakeFirst()
        : await trx
            .selectFrom('legacy_roles')
            .select('name')
            .where('id', '=', role.legacy_role_id ?? -1)
            .executeTakeFirst();
    return row?.name ?? null;
  }

  async function setRole(
    trx: Executor,
    connection: ScimConnectionRow,
    memberId: number,
    role: EnvironmentRole,
  ) {
    await setMemberEnvironmentRoles(trx, connection.workspace_id, memberId, [
      {
        environmentId: connection.environment_id,
        roleType: role.role_type,
        legacyRoleId: role.legacy_role_id,
        environmentRoleId: role.environment_role_id,
      },
    ]);
  }

  /** Takes the environment away: the current role is saved, "No access" takes its place. */
  async function deactivate(
    trx: Executor,
    connection: ScimConnectionRow,
    memberId: number,
    previouslySaved: string | null,
  ): Promise<string | null> {
    const none = await noAccess(trx, connection);
    const current = await roleIn(trx, memberId, connection.environment_id);
    if (isNoAccess(current, none)) return previouslySaved;
    await setRole(trx, connection, memberId, none);
    return toJson(current);
  }

  /**
   * Gives the environment back: the saved role (or the default role if that one was deleted
   * since), unless an admin gave the collaborator another role by hand meanwhile.
   */
  async function reactivate(
    trx: Executor,
    connection: ScimConnectionRow,
    memberId: number,
    saved: string | null,
  ): Promise<void> {
    if (saved === null) return;
    const none = await noAccess(trx, connection);
    if (!isNoAccess(await roleIn(trx, memberId, connection.environment_id), none)) return;
    const role = fromJson<EnvironmentRole>(saved);
    await setRole(
      trx,
      connection,
      memberId,
      (await roleExists(trx, connection.workspace_id, role)) ? role : defaultRole(connection),
    );
  }

  async function roleDetails(trx: Executor, connection: ScimConnectionRow, memberId: number) {
    const role = await roleIn(trx, memberId, connection.environment_id);
    return { role_name: role === undefined ? NO_ACCESS_ROLE : await roleName(trx, role) };
  }

  /** Deletes the named memberships (set-based: its cost is the IDs named, not the group). */
  async function removeMembers(trx: Executor, groupId: string, ids: number[]) {
    const deleted = new Set<number>();
    for (const slice of chunks(ids)) {
      if (slice.length === 0) continue;
      const rows = await trx
        .deleteFrom('group_memberships')
        .where('group_id', '=', groupId)
        .where('member_id', 'in', slice)
        .returning('member_id')
        .execute();
      for (const row of rows) if (row.member_id !== null) deleted.add(row.member_id);
    }
    // In the order asked, once each: what the audit event records.
    return [...new Set(ids)].filter((id) => deleted.has(id));
  }

  return {
    userTarget: 'member',
    groupTarget: 'user_group',
    userColumn: 'member_id',
    groupColumn: 'collaborator_group_id',
    userFilter: {
      kind: 'User',
      dialect: deps.dialect,
      idColumn: 'su.member_id',
      idIsInteger: true,
      groupExists: (groupId) => {
        if (groupId !== '' && !COLLABORATOR_GROUP_ID.test(groupId)) return sql<boolean>`1 = 0`;
        return sql<boolean>`exists (select 1 from group_memberships m inner join scim_groups g on g.collaborator_group_id = m.group_id and g.connection_id = su.connection_id where m.member_id = su.member_id${groupId === '' ? sql`` : sql` and m.group_id = ${groupId}`})`;
      },
    },
    groupFilter: {
      kind: 'Group',
      dialect: deps.dialect,
      idColumn: 'sg.collaborator_group_id',
      idIsInteger: false,
      memberExists: (memberId) => {
        const id = parseIntegerId(memberId);
        if (memberId === '')
          return sql<boolean>`exists (select 1 from group_memberships m where m.group_id = sg.collaborator_group_id and m.member_id is not null)`;
        return id === undefined
          ? sql<boolean>`1 = 0`
          : sql<boolean>`exists (select 1 from group_memberships m where m.group_id = sg.collaborator_group_id and m.member_id = ${id})`;
      },
    },
    parseGroupId: (raw) => (COLLABORATOR_GROUP_ID.test(raw) ? raw : undefined),

    async groupsOfUsers(db, connection, memberIds) {
      const result = new Map<number, Ref[]>();
      for (const slice of chunks(memberIds)) {
        if (slice.length === 0) continue;
        const rows = await db
          .selectFrom('group_memberships as m')
          .innerJoin('scim_groups as sg', 'sg.collaborator_group_id', 'm.group_id')
          .select(['m.member_id', 'sg.collaborator_group_id', 'sg.display_name'])
          .where('sg.connection_id', '=', connection.id)
          .where('m.member_id', 'in', slice)
          .orderBy('sg.id')
          .execute();
        for (const row of rows) {
          if (row.member_id === null || row.collaborator_group_id === null) continue;
          const list = result.get(row.member_id) ?? [];
          list.push({ id: row.collaborator_group_id, display: row.display_name });
          result.set(row.member_id, list);
        }
      }
      return result;
    },

    planProvisionUser(trx, connection, fields) {
      const key = fields.userName.toLowerCase();
      return mapRead(
        planMemberByEmailKey(trx, connection.workspace_id, key),
        (found) => async () => {
          const role = defaultRole(connection);
          let member = found;
          let savedRole: string | null = null;
          const adopted = member !== undefined;
          if (member === undefined) {
            member = await insertMember(trx, {
              workspace_id: connection.workspace_id,
              name: fields.personName,
              email: fields.userName,
              email_key: key,
              external_id: fields.externalId,
              time_zone: 'UTC',
              grant_type: 'team',
              avatar_url: null,
              created_at: now(),
              updated_at: now(),
            });
            // Every other environment gets "No access", as for an invitation without env_roles.
            const roles = await withNoAccessDefaults(trx, connection.workspace_id, []);
            await setMemberEnvironmentRoles(
              trx,
              connection.workspace_id,
              member.id,
              roles.map(toRoleRow),
            );
            if (fields.active) await setRole(trx, connection, member.id, role);
            else savedRole = toJson(role);
          } else {
            // Adopted: the identity provider takes the person over. Roles in other environments
            // stay; in this one a collaborator without access gets the default role, and one with
            // a role keeps it (provisioning gives access, it does not demote an admin).
            if (
              (await findScimUser(trx, connection.id, 'member_id', member.id, deps.dialect)) !==
              undefined
            )
              throw new ScimError(
                409,
                `${fields.userName} is already a user of this connection`,
                'uniqueness',
              );
            await trx
              .updateTable('members')
              .set({ name: fields.personName, external_id: fields.externalId, updated_at: now() })
              .where('id', '=', member.id)
              .execute();
            const none = await noAccess(trx, connection);
            const current = await roleIn(trx, member.id, connection.environment_id);
            if (fields.active) {
              if (isNoAccess(current, none)) await setRole(trx, connection, member.id, role);
            } else {
              savedRole = isNoAccess(current, none) ? toJson(role) : toJson(current);
              await setRole(trx, connection, member.id, none);
            }
          }
          return {
            personId: member.id,
            adopted,
            rest: [],
            savedRole,
            details: {
              name: fields.personName,
              email: fields.userName,
              ...(await roleDetails(trx, connection, member.id)),
            },
          };
        },
      );
    },

    async syncUser(trx, connection, existing, memberId, fields) {
      const key = fields.userName.toLowerCase();
      if (key !== existing.user_name_key) {
        const other = await findMemberByEmailKey(trx, connection.workspace_id, key);
        if (other !== undefined && other.id !== memberId)
          throw new ScimError(409, `userName ${fields.userName} is already taken`, 'uniqueness');
      }
      await trx
        .updateTable('members')
        .set({
          name: fields.personName,
          email: fields.userName,
          email_key: key,
          external_id: fields.externalId,
          updated_at: now(),
        })
        .where('id', '=', memberId)
        .execute();
      let savedRole = existing.saved_role;
      if (existing.active === 1 && !fields.active)
        savedRole = await deactivate(trx, connection, memberId, existing.saved_role);
      else if (existing.active === 0 && fields.active) {
        await reactivate(trx, connection, memberId, existing.saved_role);
        savedRole = null;
      }
      return {
        savedRole,
        details: { name: fields.personName, ...(await roleDetails(trx, connection, memberId)) },
      };
    },

    async deprovisionUser(trx, connection, existing, memberId) {
      const others = await countOtherLinks(trx, 'member_id', memberId, connection.id);
      if (others === 0) {
        await deleteMember(trx, memberId);
        return { deleted: true };
      }
      // Another connection (another environment) manages the person too: only this
      // environment and this connection's groups go.
      await setRole(trx, connection, memberId, await noAccess(trx, connection));
      await trx
        .deleteFrom('group_memberships')
        .where('member_id', '=', memberId)
        .where('group_id', 'in', (eb) =>
          eb
            .selectFrom('scim_groups')
            .select('collaborator_group_id')
            .where('connection_id', '=', connection.id)
            .where('collaborator_group_id', 'is not', null),
        )
        .execute();
      await trx.deleteFrom('scim_users').where('id', '=', existing.id).execute();
      return { deleted: false };
    },

    async membersOf(db, connection, groupId) {
      const rows = await db
        .selectFrom('group_memberships as m')
        .innerJoin('scim_users as su', (join) =>
          join.onRef('su.member_id', '=', 'm.member_id').on('su.connection_id', '=', connection.id),
        )
        .select(['su.member_id', 'su.display_name', 'su.user_name'])
        .where('m.group_id', '=', groupId)
        .orderBy('m.created_at')
        .orderBy('m.member_id')
        .execute();
      return rows.map((r) => ({ id: String(r.member_id), display: r.display_name ?? r.user_name }));
    },

    async createGroup(trx, connection, name) {
      const existing = await findGroupByNameKey(trx, connection.workspace_id, name.toLowerCase());
      if (existing !== undefined) {
        const linked = await trx
          .selectFrom('scim_groups')
          .select('connection_id')
          .where('collaborator_group_id', '=', existing.id)
          .executeTakeFirst();
        if (linked !== undefined || existing.system === 1)
          throw new ScimError(409, `A group named ${name} already exists`, 'uniqueness');
        await trx
          .updateTable('collaborator_groups')
          .set({ managed_by: 'external', updated_at: now() })
          .where('id', '=', existing.id)
          .execute();
        return { groupId: existing.id, adopted: true };
      }
      const group = await insertGroup(trx, {
        id: newPrefixedId('am'),
        workspace_id: connection.workspace_id,
        name,
        name_key: name.toLowerCase(),
        description: null,
        system: 0,
        managed_by: 'external',
        created_at: now(),
        updated_at: now(),
      });
      return { groupId: group.id, adopted: false };
    },

    async renameGroup(trx, connection, groupId, name) {
      const clash = await findGroupByNameKey(trx, connection.workspace_id, name.toLowerCase());
      if (clash !== undefined && clash.id !== groupId)
        throw new ScimError(409, `A group named ${name} already exists`, 'uniqueness');
      const group = await trx
        .selectFrom('collaborator_groups')
        .select('description')
        .where('id', '=', groupId)
        .executeTakeFirstOrThrow();
      await updateGroup(trx, groupId, {
        name,
        name_key: name.toLowerCase(),
        description: group.description,
        updated_at: now(),
      });
    },

    async deleteGroup(trx, groupId) {
      await deleteGroup(trx, groupId);
    },

    async addMembers(trx, connection, groupId, ids) {
      const at = now();
      for (const slice of chunks(ids)) {
        if (slice.length === 0) continue;
        await trx
          .insertInto('group_memberships')
          .values(
            slice.map((id) => ({
              workspace_id: connection.workspace_id,
              group_id: groupId,
              member_id: id,
              invitation_id: null,
              created_at: at,
              expires_at: null,
              source: 'external',
            })),
          )
          // Already a member (by hand, maybe until a date, or by an earlier request): the identity
          // provider now owns the membership, and it lasts as long as the provider says so.
          .onConflict((oc) =>
            oc
              .columns(['group_id', 'member_id'])
              .doUpdateSet({ source: 'external', expires_at: null }),
          )
          .execute();
      }
    },

    removeMembers,

    async currentMemberIds(trx, groupId) {
      const rows = await trx
        .selectFrom('group_memberships')
        .select('member_id')
        .where('group_id', '=', groupId)
        .where('member_id', 'is not', null)
        .execute();
      return rows.flatMap((r) => (r.member_id === null ? [] : [r.member_id]));
    },

    async releaseGroups(trx, connectionId) {
      const groupIds = (
        await trx
          .selectFrom('scim_groups')
          .select('collaborator_group_id')
          .where('connection_id', '=', connectionId)
          .execute()
      ).flatMap((g) => (g.collaborator_group_id === null ? [] : [g.collaborator_group_id]));
      for (const slice of chunks(groupIds)) {
        await trx
          .updateTable('collaborator_groups')
          .set({ managed_by: 'manual', updated_at: now() })
          .where('id', 'in', slice)
          .execute();
        await trx
          .updateTable('group_memberships')
          .set({ source: 'manual' })
          .where('group_id', 'in', slice)
          .execute();
      }
    },
  };
}
