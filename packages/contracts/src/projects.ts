import { Type, type Static } from 'typebox';
import { EnvironmentRef, EnvironmentType, Id, Nullable, PageQuery, Timestamp } from './common.js';
import { GroupRef, ProjectRoleRef, ProjectSummary } from './members.js';

export const Project = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  description: Nullable(Type.String()),
  environment: EnvironmentRef,
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type Project = Static<typeof Project>;

/** `name` is not required by the schema so that a missing or blank name gets "Name can't be blank". */
export const CreateProjectBody = Type.Object({
  name: Type.Optional(Type.String({ maxLength: 200 })),
  environment_type: Type.Optional(EnvironmentType),
  description: Type.Optional(Nullable(Type.String({ maxLength: 1000 }))),
});
export type CreateProjectBody = Static<typeof CreateProjectBody>;

export const UpdateProjectBody = Type.Object({
  name: Type.Optional(Type.String({ maxLength: 200 })),
  description: Type.Optional(Nullable(Type.String({ maxLength: 1000 }))),
});
export type UpdateProjectBody = Static<typeof UpdateProjectBody>;

export const ListProjectsQuery = Type.Object({
  environment_type: Type.Optional(EnvironmentType),
  name: Type.Optional(Type.String({ maxLength: 200 })),
  ...PageQuery,
});
export type ListProjectsQuery = Static<typeof ListProjectsQuery>;

export const UserRef = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  email: Type.String(),
});

export const ProjectGrant = Type.Object({
  id: Type.String(),
  project: ProjectSummary,
  project_role: ProjectRoleRef,
  user_group: Nullable(GroupRef),
  user: Nullable(UserRef),
  expires_at: Nullable(Timestamp),
  expired: Type.Boolean(),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type ProjectGrant = Static<typeof ProjectGrant>;

/** A grant in a project's grant list (the project is implied by the path). */
export const ProjectGrantInProject = Type.Object({
  id: Type.String(),
  project_role: ProjectRoleRef,
  user: Nullable(UserRef),
  user_group: Nullable(GroupRef),
  expires_at: Nullable(Timestamp),
  expired: Type.Boolean(),
});

export const UpdateProjectGrantBody = Type.Object({
  project_grant: Type.Object({
    project_role_id: Type.String({ minLength: 1, maxLength: 64 }),
    expires_at: Type.Optional(Nullable(Timestamp)),
  }),
});
export type UpdateProjectGrantBody = Static<typeof UpdateProjectGrantBody>;

/** At most 100 grants a request; the limit is enforced by the grants service with the reference text. */
export const PROJECT_GRANTS_PER_REQUEST = 100;
export const UpsertProjectGrantsBody = Type.Object({
  project_grants: Type.Array(
    Type.Object({
      assignment_type: Type.Union([Type.Literal('User'), Type.Literal('UserGroup')]),
      assignment_id: Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Id()]),
      project_role_id: Type.String({ minLength: 1, maxLength: 64 }),
      expires_at: Type.Optional(Nullable(Timestamp)),
    }),
    { maxItems: 10_000 },
  ),
});
export type UpsertProjectGrantsBody = Static<typeof UpsertProjectGrantsBody>;
