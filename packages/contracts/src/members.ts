import { Type, type Static } from 'typebox';
import {
  EnvironmentRef,
  EnvironmentType,
  LegacyPrivileges,
  Nullable,
  PageQuery,
  RoleConfig,
  Timestamp,
} from './common.js';

export const RoleType = Type.Union([Type.Literal('privilege_group'), Type.Literal('environment')]);
export type RoleType = Static<typeof RoleType>;

/** One environment's role in a request: `{"environment_type":"dev","name":"Admin","role_type":"privilege_group"}`. */
export const EnvRoleAssignment = Type.Object({
  environment_type: EnvironmentType,
  name: Type.String({ minLength: 1, maxLength: 200 }),
  role_type: Type.Optional(RoleType),
});
export type EnvRoleAssignment = Static<typeof EnvRoleAssignment>;

export const GroupRef = Type.Object({
  id: Type.String(),
  name: Type.String(),
  system: Type.Boolean(),
});
export const MemberRole = Type.Object({
  environment_type: Type.String(),
  role_name: Type.String(),
  role_type: RoleType,
});
export const LastActivityLog = Nullable(
  Type.Object({ id: Type.Integer(), event_type: Type.String(), created_at: Timestamp }),
);

export const Member = Type.Object({
  id: Type.Integer(),
  grant_type: Type.Union([Type.Literal('team'), Type.Literal('federation_manager')]),
  user_groups: Type.Array(GroupRef),
  roles: Type.Array(MemberRole),
  last_activity_log: LastActivityLog,
  external_id: Nullable(Type.String()),
  name: Type.String(),
  email: Type.String(),
  time_zone: Type.String(),
  created_at: Timestamp,
});
export type Member = Static<typeof Member>;

export const ListMembersQuery = Type.Object({
  email: Type.Optional(Type.String({ maxLength: 254 })),
  ...PageQuery,
});
export type ListMembersQuery = Static<typeof ListMembersQuery>;

export const UpdateMemberBody = Type.Object({
  env_roles: Type.Array(EnvRoleAssignment, { minItems: 1, maxItems: 50 }),
});
export type UpdateMemberBody = Static<typeof UpdateMemberBody>;

export const ProjectSummary = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  environment: EnvironmentRef,
});
export const ProjectRoleRef = Type.Object({ id: Type.String(), name: Type.String() });

/** A grant as the member and group grant lists show it (the assignee is implied by the path). */
export const AssigneeProjectGrant = Type.Object({
  id: Type.String(),
  project: ProjectSummary,
  project_role: ProjectRoleRef,
  expires_at: Nullable(Timestamp),
  expired: Type.Boolean(),
});

export const MemberPrivileges = Type.Object({
  environment_type: Type.String(),
  name: Type.String(),
  role_type: RoleType,
  privileges: Type.Union([LegacyPrivileges, RoleConfig]),
});

export const ProjectsPrivileges = Type.Object({
  environment: EnvironmentRef,
  projects: Type.Record(Type.String(), LegacyPrivileges),
});
