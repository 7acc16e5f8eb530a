/**
 * The kinds of target a change is recorded against: the `target_type` of every audit event.
 * Both sides of the change contract are typed by this union. The write side (AuditEntry,
 * insertAuditEvent, recordChange, SCIM's insertScimAuditEvent) accepts only these kinds, and the
 * subscribers of the change feed (change-feed.ts) switch over it with no default case. A write
 * with a new target kind therefore fails to compile until it is added here, and adding it here
 * fails to compile until every subscriber (the access index's reload table) says what it means.
 *
 * It sits in its own file so that the repository that writes events and the feed that reads them
 * both import it without importing each other's runtime code.
 */
export const CHANGE_TARGET_TYPES = [
  'agent',
  'api_client',
  'approval_request',
  'end_user',
  'end_user_group',
  'environment_role',
  'feature',
  'member',
  'member_invitation',
  'policy',
  'project',
  'project_grant',
  'project_role',
  'role',
  'scim_connection',
  'sso_oidc',
  'user_group',
  'webhook',
  'workspace',
] as const;
export type ChangeTargetType = (typeof CHANGE_TARGET_TYPES)[number];

const KNOWN_TARGET_TYPES: ReadonlySet<string> = new Set(CHANGE_TARGET_TYPES);

/** Whether a stored `target_type` is one this version knows (rows may come from another version). */
export const isChangeTargetType = (value: string): value is ChangeTargetType =>
  KNOWN_TARGET_TYPES.has(value);
