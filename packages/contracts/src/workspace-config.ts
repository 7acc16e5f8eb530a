/**
 * The declarative workspace document: what `GET /api/workspace/export` writes and
 * `POST /api/workspace/apply` (the `roster export` / `roster apply` CLI) reads. Objects are named,
 * never numbered: a role, a group or a project is referred to by its name (projects, features,
 * policies and end-user groups by environment and name, people by email), so a document taken from
 * one workspace applies to another. `version` is the document format's; a new format gets a new
 * number and the server refuses one it does not know.
 */
import { Type, type Static } from 'typebox';
import { LegacyPrivileges, RoleConfig, Timestamp } from './common.js';
import {
  APPROVAL_STEPS_MAX,
  APPROVERS_PER_STEP_MAX,
  EndUserGroupRole,
  FeatureKind,
  PolicyEffect,
} from './end-users.js';

export const WORKSPACE_DOCUMENT_VERSION = 1;

const Name = Type.String({ minLength: 1, maxLength: 200 });
/** The same bounds as the modules' own request bodies. */
const Description = (maxLength: number) => Type.Union([Type.String({ maxLength }), Type.Null()]);
const EnvironmentType = Type.String({ minLength: 1, maxLength: 50 });
const EmailRef = Type.String({ minLength: 3, maxLength: 254 });
const strict = { additionalProperties: false } as const;
const many = <T extends Parameters<typeof Type.Array>[0]>(item: T) =>
  Type.Array(item, { maxItems: 5000 });

/** A project: its environment and its name (unique per environment in a document). */
export const ProjectRef = Type.Object({ environment: EnvironmentType, name: Name }, strict);
export type ProjectRef = Static<typeof ProjectRef>;

/** A custom legacy role (privilege group). Built-in roles (Admin, Analyst, …) are not listed. */
export const DocumentLegacyRole = Type.Object(
  {
    name: Name,
    privileges: LegacyPrivileges,
    project_access: Type.Union([Type.Literal('all'), Type.Literal('selected')]),
    /** With `selected`: the projects it applies to. */
    projects: many(ProjectRef),
  },
  strict,
);
export const DocumentRole = Type.Object({ name: Name, config: RoleConfig }, strict);
export const DocumentGroup = Type.Object({ name: Name, description: Description(300) }, strict);
export const DocumentProject = Type.Object(
  { environment: EnvironmentType, name: Name, description: Description(1000) },
  strict,
);
/** A project grant: a project role given to a collaborator group, or to a collaborator by email. */
export const DocumentGrant = Type.Object(
  {
    project: ProjectRef,
    role: Name,
    group: Type.Optional(Name),
    user: Type.Optional(EmailRef),
    expires_at: Type.Union([Timestamp, Type.Null()]),
  },
  strict,
);
export const DocumentEndUserGroup = Type.Object(
  {
    environment: EnvironmentType,
    name: Name,
    description: Description(300),
    roles: Type.Array(EndUserGroupRole, { maxItems: 2 }),
    /** Its members' emails: an end-user group has at least one (the end users must exist). */
    members: Type.Array(EmailRef, { minItems: 1, maxItems: 10_000 }),
  },
  strict,
);
export const DocumentFeature = Type.Object(
  {
    environment: EnvironmentType,
    kind: FeatureKind,
    name: Name,
    description: Description(1000),
    /** Who has access: end-user groups of the environment by name (`Everyone` included), end users by email. */
    access: Type.Object({ groups: many(Name), end_users: many(EmailRef) }, strict),
    /**
     * An mcp_server feature's upstream: its URL and the NAMES of its headers, never their values
     * (secrets). Absent: apply leaves the target's upstream as it is; null: apply removes it.
     * Apply sets the URL and keeps the target's stored header values; every name listed must
     * already have a value there (docs/integration.md#cli).
     */
    upstream: Type.Optional(
      Type.Union([
        Type.Object(
          {
            url: Type.String({ minLength: 8, maxLength: 2000, pattern: '^https?://' }),
            header_names: Type.Array(Type.String({ minLength: 1, maxLength: 100 }), {
              maxItems: 20,
            }),
          },
          strict,
        ),
        Type.Null(),
      ]),
    ),
  },
  strict,
);
/** One step of a require_approval policy's approver chain: collaborators by email, end-user groups (of the policy's environment) by name. */
export const DocumentApprovalStep = Type.Object(
  {
    collaborators: Type.Array(EmailRef, { maxItems: APPROVERS_PER_STEP_MAX }),
    end_user_groups: Type.Array(Name, { maxItems: APPROVERS_PER_STEP_MAX }),
  },
  strict,
);
export const DocumentPolicy = Type.Object(
  {
    environment: EnvironmentType,
    /** The feature's name, in the policy's environment. */
    feature: Name,
    name: Name,
    description: Description(1000),
    tools: Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 100 }),
    /** `all`; `users` with end users' emails; `groups` with end-user group names. */
    scope: Type.Object(
      {
        type: Type.Union([Type.Literal('all'), Type.Literal('users'), Type.Literal('groups')]),
        targets: Type.Array(Type.String({ minLength: 1, maxLength: 254 }), { maxItems: 1000 }),
      },
      strict,
    ),
    effect: PolicyEffect,
    /** require_approval only: the approver chain, in order. Absent or empty: no chain. */
    approval_steps: Type.Optional(
      Type.Array(DocumentApprovalStep, { maxItems: APPROVAL_STEPS_MAX }),
    ),
  },
  strict,
);

export const WorkspaceDocument = Type.Object(
  {
    /** The format's version; this server reads version 1. */
    version: Type.Integer({
      minimum: WORKSPACE_DOCUMENT_VERSION,
      maximum: WORKSPACE_DOCUMENT_VERSION,
    }),
    roles: many(DocumentLegacyRole),
    environment_roles: many(DocumentRole),
    project_roles: many(DocumentRole),
    groups: many(DocumentGroup),
    projects: many(DocumentProject),
    grants: many(DocumentGrant),
    end_user_groups: many(DocumentEndUserGroup),
    features: many(DocumentFeature),
    policies: many(DocumentPolicy),
  },
  strict,
);
export type WorkspaceDocument = Static<typeof WorkspaceDocument>;

export const WorkspaceExportResponse = Type.Object({ data: WorkspaceDocument });

export const ApplyWorkspaceQuery = Type.Object({
  /** Validate and plan, change nothing. */
  dry_run: Type.Optional(Type.Boolean()),
});
export type ApplyWorkspaceQuery = Static<typeof ApplyWorkspaceQuery>;

export const PlanKind = Type.Union([
  Type.Literal('role'),
  Type.Literal('environment_role'),
  Type.Literal('project_role'),
  Type.Literal('group'),
  Type.Literal('project'),
  Type.Literal('grant'),
  Type.Literal('end_user_group'),
  Type.Literal('feature'),
  Type.Literal('policy'),
]);
export type PlanKind = Static<typeof PlanKind>;

export const PlanStep = Type.Object({
  action: Type.Union([Type.Literal('create'), Type.Literal('update'), Type.Literal('delete')]),
  kind: PlanKind,
  /** The object's stable name: `dev/Checkout` for a project, `dev/Checkout: Viewer → group Ops` for a grant. */
  name: Type.String(),
});
export type PlanStep = Static<typeof PlanStep>;

export const ApplyWorkspaceResponse = Type.Object({
  data: Type.Object({
    dry_run: Type.Boolean(),
    /** False on a dry run, and when the plan is empty. */
    applied: Type.Boolean(),
    steps: Type.Array(PlanStep),
    /** Counts of the steps by kind and action. */
    summary: Type.Record(
      Type.String(),
      Type.Object({ create: Type.Integer(), update: Type.Integer(), delete: Type.Integer() }),
    ),
  }),
});
export type ApplyWorkspaceResponse = Static<typeof ApplyWorkspaceResponse>;
