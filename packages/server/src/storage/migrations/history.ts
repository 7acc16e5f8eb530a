/**
 * The one migration history both dialects share. A migration that has landed is never edited:
 * add a new file and list it here, in order.
 */
import type { MigrationProvider } from 'kysely';
import type { Dialect } from '../database.js';
import type { MigrationFor } from './index.js';
import { coreMigration } from './0001-core.js';
import { endUsersMigration } from './0002-end-users.js';
import { scimMigration } from './0003-scim.js';
import { consoleMigration } from './0004-console.js';
import { ssoMigration } from './0005-sso.js';
import { consoleSsoMigration } from './0006-console-sso.js';
import { scimCollaboratorsMigration } from './0007-scim-collaborators.js';
import { consoleSsoOptInMigration } from './0008-console-sso-opt-in.js';
import { scimActiveUnassignedMigration } from './0009-scim-active-unassigned.js';
import { auditTargetNameMigration } from './0010-audit-target-name.js';
import { legacyRoleProjectsMigration } from './0011-legacy-role-projects.js';
import { workspaceLoadIndexesMigration } from './0012-workspace-load-indexes.js';
import { writePathIndexesMigration } from './0013-write-path-indexes.js';
import { agentsMigration } from './0014-agents.js';
import { approvalFlowsMigration } from './0015-approval-flows.js';
import { webhooksMigration } from './0016-webhooks.js';
import { oauthMigration } from './0019-oauth.js';
import { clusterInstancesMigration } from './0020-cluster-instances.js';
import { changeNotifyTriggerMigration } from './0023-change-notify-trigger.js';
import { decisionIdsMigration } from './0025-decision-ids.js';
import { selectiveLookupIndexesMigration } from './0028-selective-lookup-indexes.js';
import { auditEnvironmentMigration } from './0029-audit-environment.js';
import { changeNotifyIdsMigration } from './0031-change-notify-ids.js';
import { auditActivityIndexMigration } from './0033-audit-activity-index.js';
import { keptCountsMigration } from './0034-kept-counts.js';
import { changeNotifyAfterCommitMigration } from './0035-change-notify-after-commit.js';
import { auditIdFiltersMigration } from './0036-audit-id-filters.js';
import { auditActorIdIndexDroppedMigration } from './0037-audit-actor-id-index-dropped.js';
import { auditTimeIndexMigration } from './0038-audit-time-index.js';

const history: ReadonlyArray<[name: string, migration: MigrationFor]> = [
  ['0001-core', coreMigration],
  ['0002-end-users', endUsersMigration],
  ['0003-scim', scimMigration],
  ['0004-console', consoleMigration],
  ['0005-sso', ssoMigration],
  ['0006-console-sso', consoleSsoMigration],
  ['0007-scim-collaborators', scimCollaboratorsMigration],
  ['0008-console-sso-opt-in', consoleSsoOptInMigration],
  ['0009-scim-active-unassigned', scimActiveUnassignedMigration],
  ['0010-audit-target-name', auditTargetNameMigration],
  ['0011-legacy-role-projects', legacyRoleProjectsMigration],
  ['0012-workspace-load-indexes', workspaceLoadIndexesMigration],
  ['0013-write-path-indexes', writePathIndexesMigration],
  ['0014-agents', agentsMigration],
  ['0015-approval-flows', approvalFlowsMigration],
  ['0016-webhooks', webhooksMigration],
  ['0019-oauth', oauthMigration],
  ['0020-cluster-instances', clusterInstancesMigration],
  ['0023-change-notify-trigger', changeNotifyTriggerMigration],
  ['0025-decision-ids', decisionIdsMigration],
  ['0028-selective-lookup-indexes', selectiveLookupIndexesMigration],
  ['0029-audit-environment', auditEnvironmentMigration],
  ['0031-change-notify-ids', changeNotifyIdsMigration],
  ['0033-audit-activity-index', auditActivityIndexMigration],
  ['0034-kept-counts', keptCountsMigration],
  ['0035-change-notify-after-commit', changeNotifyAfterCommitMigration],
  ['0036-audit-id-filters', auditIdFiltersMigration],
  ['0037-audit-actor-id-index-dropped', auditActorIdIndexDroppedMigration],
  ['0038-audit-time-index', auditTimeIndexMigration],
];

export function migrationProvider(dialect: Dialect): MigrationProvider {
  return {
    getMigrations: () =>
      Promise.resolve(Object.fromEntries(history.map(([name, make]) => [name, make(dialect)]))),
  };
}
