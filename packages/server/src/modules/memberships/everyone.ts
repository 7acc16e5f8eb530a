/**
 * The `Everyone` rule, written once: an end user is in its environment's system group `Everyone`
 * when it has access to that environment and has accepted its invitation (an invited user is not
 * in Everyone yet). Membership is implicit: no row in end_user_group_members. `inEveryone` is the
 * rule for code holding a user; `everyoneMembers` is the same rule as a query, for counts and
 * member lists that must stay in SQL.
 */
import type { Executor } from '../../storage/database.js';

export function inEveryone(user: { status: string }, hasEnvironmentAccess: boolean): boolean {
  return hasEnvironmentAccess && user.status !== 'invited';
}

/**
 * The users in some environment's Everyone (`ue` the access rows, `u` the users): the caller adds
 * which environment (`ue.environment_id`), by value or correlated to an outer query.
 */
export function everyoneMembers(db: Executor) {
  return db
    .selectFrom('end_user_environments as ue')
    .innerJoin('end_users as u', 'u.id', 'ue.end_user_id')
    .where('u.status', '<>', 'invited');
}
