/**
 * Row types of every table. Both dialects store the same shapes: timestamps as ISO-8601 UTC text
 * (fixed width, so they sort and compare as strings), booleans as 0/1 integers and JSON as text.
 * That keeps one repository layer for SQLite and PostgreSQL without per-dialect type mapping.
 */
import type { ColumnType, Generated, Insertable, Kysely, Selectable, Transaction } from 'kysely';

type Id = Generated<number>;
/** 0 or 1. */
type Flag = number;

export interface WorkspacesTable {
  id: Id;
  name: string;
  environments_enabled: Flag;
  created_at: string;
}
export interface EnvironmentsTable {
  id: Id;
  workspace_id: number;
  type: string;
  created_at: string;
}
export interface LegacyRolesTable {
  id: Id;
  workspace_id: number;
  name: string;
  name_key: string;
  privileges: string;
  system: Flag;
  created_at: string;
  updated_at: string;
}
export interface EnvironmentRolesTable {
  id: Id;
  workspace_id: number;
  name: string;
  name_key: string;
  config: string;
  type: string;
  inheritable: Flag;
  created_at: string;
  updated_at: string;
}
export interface ProjectRolesTable {
  id: string;
  workspace_id: number;
  name: string;
  name_key: string;
  config: string;
  type: string;
  inheritable: Flag;
  created_at: string;
  updated_at: string;
}
export interface MembersTable {
  id: Id;
  workspace_id: number;
  name: string;
  email: string;
  email_key: string;
  external_id: string | null;
  time_zone: string;
  grant_type: string;
  avatar_url: string | null;
  created_at: string;
  updated_at: string;
}
export interface MemberEnvironmentRolesTable {
  workspace_id: number;
  member_id: number;
  environment_id: number;
  role_type: string;
  legacy_role_id: number | null;
  environment_role_id: number | null;
}
export interface CollaboratorGroupsTable {
  id: string;
  workspace_id: number;
  name: string;
  name_key: string;
  description: string | null;
  system: Flag;
  created_at: string;
  updated_at: string;
}
export interface MemberInvitationsTable {
  id: Id;
  workspace_id: number;
  name: string;
  email: string;
  email_key: string;
  token_hash: string;
  env_roles: string;
  status: string;
  invited_by: string | null;
  created_at: string;
  expires_at: string;
  accepted_at: string | null;
  member_id: number | null;
}
export interface GroupMembershipsTable {
  id: Id;
  workspace_id: number;
  group_id: string;
  member_id: number | null;
  invitation_id: number | null;
  created_at: string;
  expires_at: string | null;
}
export interface ProjectsTable {
  id: Id;
  workspace_id: number;
  environment_id: number;
  name: string;
  description: string | null;
  created_at: string;
  updated_at: string;
}
export interface ProjectGrantsTable {
  id: string;
  workspace_id: number;
  project_id: number;
  project_role_id: string;
  member_id: number | null;
  group_id: string | null;
  created_at: string;
  updated_at: string;
  expires_at: string | null;
}
export interface ApiClientsTable {
  id: Id;
  workspace_id: number;
  name: string;
  token_hash: string;
  token_prefix: string;
  environment_types: string;
  project_ids: string | null;
  created_at: string;
  rotated_at: string | null;
  revoked_at: string | null;
}
export interface AuditEventsTable {
  id: Id;
  workspace_id: number;
  actor_type: string;
  actor_id: string | null;
  actor_name: string | null;
  action: string;
  target_type: string;
  target_id: string | null;
  before_json: string | null;
  after_json: string | null;
  created_at: string;
}

export interface Database {
  workspaces: WorkspacesTable;
  environments: EnvironmentsTable;
  legacy_roles: LegacyRolesTable;
  environment_roles: EnvironmentRolesTable;
  project_roles: ProjectRolesTable;
  members: MembersTable;
  member_environment_roles: MemberEnvironmentRolesTable;
  collaborator_groups: CollaboratorGroupsTable;
  member_invitations: MemberInvitationsTable;
  group_memberships: GroupMembershipsTable;
  projects: ProjectsTable;
  project_grants: ProjectGrantsTable;
  api_clients: ApiClientsTable;
  audit_events: AuditEventsTable;
}

export type Db = Kysely<Database>;
/** A database handle or an open transaction: repository functions take either. */
export type Executor = Kysely<Database> | Transaction<Database>;
export type Row<T extends keyof Database> = Selectable<Database[T]>;
export type NewRow<T extends keyof Database> = Insertable<Database[T]>;
export type Dialect = 'sqlite' | 'postgres';
export type { ColumnType };
