/**
 * Explain output for end-user checks (POST /api/access/check with a feature): every path that
 * allows or refuses the call, as steps (end user → group → policy or feature grant → feature →
 * tool) and one sentence an admin can read. Groups say who manages them, so access that comes
 * through a directory (SCIM) group reads as such.
 */
import type { AccessPath, AccessStep } from '@roster/contracts';
import type {
  EndUserEntry,
  EndUserGroupEntry,
  EndUserOutcome,
  EndUserSlice,
  FeatureEntry,
  MatchedPolicy,
} from './end-user-index.js';
import { grantsReaching, groupsIn } from './end-user-index.js';

function groupLabel(group: EndUserGroupEntry): string {
  if (group.system) return `group "${group.name}" (every user)`;
  return group.managedBy === 'external'
    ? `group "${group.name}" (managed externally, by the identity provider)`
    : `group "${group.name}"`;
}

export function explainEndUser(
  slice: EndUserSlice,
  user: EndUserEntry,
  environment: { id: number; type: string },
  feature: FeatureEntry,
  tool: string | null,
  outcome: EndUserOutcome,
): AccessPath[] {
  const who: AccessStep = { kind: 'end_user', id: user.id, name: user.email };
  const target: AccessStep[] = [{ kind: 'feature', id: feature.id, name: feature.name }];
  if (tool !== null) target.push({ kind: 'tool', id: null, name: tool });
  const call = `feature "${feature.name}"${tool === null ? '' : ` (tool ${tool})`} in ${environment.type.toUpperCase()}`;
  const groupStep = (group: EndUserGroupEntry): AccessStep => ({
    kind: 'end_user_group',
    id: group.id,
    name: group.name,
  });

  const policyPath = (match: MatchedPolicy, result: AccessPath['outcome']): AccessPath => {
    const { policy, group } = match;
    const steps: AccessStep[] = [who];
    if (group !== null) steps.push(groupStep(group));
    steps.push({ kind: 'policy', id: policy.id, name: policy.name }, ...target);
    const whom =
      policy.scopeType === 'all'
        ? 'applies to all users'
        : group === null
          ? `names ${user.email}`
          : `applies to ${groupLabel(group)}, which ${user.email} is in`;
    const effect =
      result === 'grants'
        ? `allows ${call}`
        : result === 'denies'
          ? `denies ${call}`
          : `requires an approved request for ${call} (POST /api/end_users/decisions opens or uses one)`;
    return {
      outcome: result,
      via: 'policy',
      message: `Policy "${policy.name}" ${whom}; it ${effect}.`,
      steps,
    };
  };

  switch (outcome.kind) {
    case 'locked':
      return [
        {
          outcome: 'denies',
          via: 'lock',
          message: `${user.email} is locked: every call is denied until the user is unlocked.`,
          steps: [who, ...target],
        },
      ];
    case 'status':
      return [
        {
          outcome: 'denies',
          via: 'status',
          message: `${user.email} is ${user.status}: only active users get access.`,
          steps: [who, ...target],
        },
      ];
    case 'no_environment_access':
      return [
        {
          outcome: 'denies',
          via: 'environment_access',
          message: `${user.email} has no access to the ${environment.type.toUpperCase()} environment, so ${call} is denied.`,
          steps: [
            who,
            { kind: 'environment', id: environment.id, name: environment.type },
            ...target,
          ],
        },
      ];
    case 'deny':
      return outcome.matches.map((m) => policyPath(m, 'denies'));
    case 'require_approval':
      return outcome.approvals.map((m) => policyPath(m, 'requires_approval'));
    case 'allow': {
      const paths = outcome.matches.map((m) => policyPath(m, 'grants'));
      const groups = groupsIn(slice, user, environment.id);
      for (const grant of grantsReaching(feature, user.id, groups)) {
        if (grant.group === null) {
          paths.push({
            outcome: 'grants',
            via: 'feature_grant',
            message: `${user.email} is granted ${call} directly.`,
            steps: [
              who,
              { kind: 'feature_grant', id: grant.id, name: `${feature.name} to ${user.email}` },
              ...target,
            ],
          });
        } else {
          const group = grant.group;
          const membership = group.system
            ? `${user.email}, like every user, is in ${groupLabel(group)}`
            : `${user.email} is a member of ${groupLabel(group)}`;
          paths.push({
            outcome: 'grants',
            via: 'feature_grant',
            message: `${membership}, which is granted ${call}.`,
            steps: [
              who,
              groupStep(group),
              { kind: 'feature_grant', id: grant.id, name: `${feature.name} to ${group.name}` },
              ...target,
            ],
          });
        }
      }
      return paths;
    }
    case 'no_access':
    default: {
      const groups = groupsIn(slice, user, environment.id).length;
      return [
        {
          outcome: 'no_access',
          via: 'none',
          message: `No policy or feature grant gives ${user.email} ${call}: none to them directly, and none to any of their ${groups} group${groups === 1 ? '' : 's'}.`,
          steps: [who, ...target],
        },
      ];
    }
  }
}
