import { Navigate, Outlet, useLocation } from 'react-router';

import { useSession } from '../hooks/useSession';
import { signInPath } from '../signInPath';

export function RequireAuth() {
  const { user } = useSession();
  const location = useLocation();
  if (!user) return <Navigate to={signInPath(location.pathname + location.search)} replace />;
  return <Outlet />;
}
