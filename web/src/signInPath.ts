/** The sign-in page, remembering where to come back to. */
export function signInPath(returnTo: string): string {
  return returnTo === '/' ? '/signin' : `/signin?next=${encodeURIComponent(returnTo)}`;
}

/** Only paths of this app are followed after sign-in, never another origin. */
export function safeReturnPath(next: string | null): string {
  return next && next.startsWith('/') && !next.startsWith('//') ? next : '/';
}
