import { createContext, useContext } from 'react';

import type { Config, User } from '../api';

export interface Session {
  /** Null when signed out. */
  user: User | null;
  config: Config;
  signIn: (email: string, password: string) => Promise<void>;
  signOut: () => Promise<void>;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside SessionProvider');
  return session;
}
