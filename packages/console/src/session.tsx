import { createContext, useContext } from 'react';
import type { ConsoleSession } from './api/client';

export interface SessionState {
  session: ConsoleSession;
  /** The environment the per-environment screens (groups, features, policies) show. */
  environment: string;
  setEnvironment: (environment: string) => void;
  signOut: () => void;
}

export const SessionContext = createContext<SessionState | null>(null);

export function useSession(): SessionState {
  const value = useContext(SessionContext);
  if (value === null) throw new Error('useSession outside the signed-in app');
  return value;
}

/** Whether the signed-in user may change things in this environment (any environment when omitted). */
export function useCanWrite(environment?: string): boolean {
  const { session } = useSession();
  if (environment === undefined) return session.writable_environment_types.length > 0;
  return session.writable_environment_types.includes(environment);
}
