import { Type, type Static } from 'typebox';
import { Id, RoleConfig } from './common.js';

export const DryRunQuery = Type.Object({ dry_run: Type.Optional(Type.Boolean()) });

export const SystemRolesMigrationBody = Type.Union([
  Type.Object({ dry_run: Type.Optional(Type.Boolean()) }),
  Type.Null(),
]);

const NewRole = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 200 }),
  additional_permissions: Type.Optional(RoleConfig),
});

export const CustomRoleMigrationBody = Type.Object({
  privilege_group_id: Id(),
  environment_role: NewRole,
  project_role: NewRole,
  dry_run: Type.Optional(Type.Boolean()),
});
export type CustomRoleMigrationBody = Static<typeof CustomRoleMigrationBody>;

const Person = { user_id: Type.Integer(), email: Type.String(), name: Type.String() };

export const MigrationPlan = Type.Object({
  environment_roles: Type.Array(Type.Object({ name: Type.String(), config: RoleConfig })),
  project_roles: Type.Array(Type.Object({ name: Type.String(), config: RoleConfig })),
  collaborators: Type.Array(
    Type.Object({
      ...Person,
      roles: Type.Array(Type.Object({ environment: Type.String(), name: Type.String() })),
    }),
  ),
  projects: Type.Array(
    Type.Object({
      id: Type.Integer(),
      name: Type.String(),
      environment: Type.String(),
      collaborators: Type.Array(Type.Object({ ...Person, project_role: Type.String() })),
    }),
  ),
  moderators: Type.Array(
    Type.Object({ ...Person, environment_role: Type.String(), project_role: Type.String() }),
  ),
});
export type MigrationPlan = Static<typeof MigrationPlan>;
