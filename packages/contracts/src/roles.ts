import { Type, type Static } from 'typebox';
import { LegacyPrivileges, PageQuery, RoleConfig, Timestamp } from './common.js';

export const RoleKind = Type.Union([
  Type.Literal('system'),
  Type.Literal('custom'),
  Type.Literal('inheritable'),
  Type.Literal('inherited'),
]);

const RoleCountsAndDates = {
  members_count: Type.Integer(),
  type: RoleKind,
  created_at: Timestamp,
  updated_at: Timestamp,
};

/** A role as the list endpoints show it: the reference API leaves `config` out of lists. */
export const EnvironmentRoleSummary = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  ...RoleCountsAndDates,
});
export type EnvironmentRoleSummary = Static<typeof EnvironmentRoleSummary>;
export const ProjectRoleSummary = Type.Object({
  id: Type.String(),
  name: Type.String(),
  ...RoleCountsAndDates,
});
export type ProjectRoleSummary = Static<typeof ProjectRoleSummary>;

/** A role as get, create and update show it, with its privilege `config`. */
export const EnvironmentRole = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  config: RoleConfig,
  ...RoleCountsAndDates,
});
export type EnvironmentRole = Static<typeof EnvironmentRole>;
export const ProjectRole = Type.Object({
  id: Type.String(),
  name: Type.String(),
  config: RoleConfig,
  ...RoleCountsAndDates,
});
export type ProjectRole = Static<typeof ProjectRole>;

/** `name` optional in the schema so a blank or missing name gets "Name can't be blank". */
const RoleInput = Type.Object({
  name: Type.Optional(Type.String({ maxLength: 200 })),
  config: RoleConfig,
  inheritable: Type.Optional(Type.Boolean()),
});
export type RoleInput = Static<typeof RoleInput>;
export const EnvironmentRoleBody = Type.Object({ environment_role: RoleInput });
export type EnvironmentRoleBody = Static<typeof EnvironmentRoleBody>;
export const ProjectRoleBody = Type.Object({ project_role: RoleInput });
export type ProjectRoleBody = Static<typeof ProjectRoleBody>;

export const ListRolesQuery = Type.Object({
  name: Type.Optional(Type.String({ maxLength: 200 })),
  ...PageQuery,
});
export type ListRolesQuery = Static<typeof ListRolesQuery>;

/**
 * Which projects a legacy role applies to, in the environment where a collaborator holds it:
 * `all` of them (every system role; later projects included), or the `selected` ones
 * (`project_ids`; custom roles only).
 */
export const LegacyProjectAccess = Type.Union([Type.Literal('all'), Type.Literal('selected')]);
export type LegacyProjectAccess = Static<typeof LegacyProjectAccess>;

/** A legacy role (privilege group): system `Admin`, `Analyst`, `Operator`, `No access`, or custom. */
export const LegacyRole = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  privileges: LegacyPrivileges,
  project_access: LegacyProjectAccess,
  /** The selected projects, in ID order; empty when `project_access` is `all`. */
  project_ids: Type.Array(Type.Integer()),
  system: Type.Boolean(),
  members_count: Type.Integer(),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type LegacyRole = Static<typeof LegacyRole>;
export const LegacyRoleBody = Type.Object({
  role: Type.Object({
    name: Type.Optional(Type.String({ maxLength: 200 })),
    privileges: LegacyPrivileges,
    /** Default on create `all` (or `selected` when `project_ids` is given); on update, unchanged. */
    project_access: Type.Optional(LegacyProjectAccess),
    project_ids: Type.Optional(
      Type.Array(Type.Integer({ minimum: 1, maximum: 2_147_483_647 }), { maxItems: 1000 }),
    ),
  }),
});
export type LegacyRoleBody = Static<typeof LegacyRoleBody>;
