import type { ChangeTracker } from './change-tracking.js';

/**
 * Who is asking, for which workspace, and what their credential may manage. Built by the auth
 * plugin; every service function takes it first, so workspace isolation is never optional.
 */
export interface Actor {
  /** `agent`: an agent identity calling through the MCP gateway (modules/gateway). */
  type: 'api_client' | 'member' | 'end_user' | 'platform' | 'system' | 'invitee' | 'agent';
  id: string | null;
  name: string | null;
}

export interface ClientScope {
  /** Environment types the credential may manage. */
  environmentTypes: ReadonlySet<string>;
  /** Projects the credential may manage; null = every project in its environments. */
  projectIds: ReadonlySet<number> | null;
}

export interface RequestContext {
  workspaceId: number;
  actor: Actor;
  scope: ClientScope;
  /**
   * The request's change tracker (lib/change-tracking.ts), set on the routes that store: the
   * audit events its writes record (recordChange) mark it, and it answers once the access index
   * has them.
   */
  changes?: ChangeTracker;
}
