import { type FormEvent, useId, useState } from 'react';
import { Navigate, useSearchParams } from 'react-router';

import { ApiError, NETWORK_ERROR } from '../api';
import { useDocumentTitle } from '../hooks/useDocumentTitle';
import { useI18n } from '../hooks/useI18n';
import type { MessageKey } from '../i18n';
import { useSession } from '../hooks/useSession';
import { safeReturnPath } from '../signInPath';

/** What a refused sign-in at the identity provider (`/signin?error=CODE`) tells the person. */
const SIGN_IN_ERRORS: Record<string, MessageKey> = {
  'sign-in-cancelled': 'signin.error.cancelled',
  'sign-in-no-account': 'signin.error.noAccount',
  'sign-in-email-taken': 'signin.error.emailTaken',
  'sign-in-email-linked-to-another': 'signin.error.emailTaken',
  'sign-in-no-email': 'signin.error.noEmail',
  'identity-provider-unavailable': 'signin.error.unavailable',
};

/** Where the identity provider's sign-in starts, coming back to `returnTo` after. */
function organisationSignInUrl(returnTo: string): string {
  return `/api/v1.0/authenticate/?returnTo=${encodeURIComponent(returnTo)}`;
}

export function SignInPage() {
  const { t } = useI18n();
  const { user, config, signIn } = useSession();
  const [params] = useSearchParams();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const emailId = useId();
  const passwordId = useId();
  const errorId = useId();
  useDocumentTitle(t('signin.title'));

  const returnTo = safeReturnPath(params.get('next'));
  if (user) return <Navigate to={returnTo} replace />;
  const providerError = params.get('error');

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError('');
    try {
      await signIn(email, password);
    } catch (caught) {
      if (caught instanceof ApiError && caught.code === 'invalid-credentials') {
        setError(t('signin.invalid'));
      } else if (caught instanceof ApiError && caught.code !== NETWORK_ERROR) {
        setError(caught.detail);
      } else {
        setError(t('error.network'));
      }
      setBusy(false);
    }
  };

  const demo = config.demo;
  const { password: withPassword, identity_provider: withProvider } = config.sign_in;
  return (
    <div className="narrow">
      <h1>{t('signin.title')}</h1>
      {providerError && (
        <p className="form-error" role="alert" data-testid="sign-in-error">
          {t(SIGN_IN_ERRORS[providerError] ?? 'signin.error.failed')}
        </p>
      )}
      {withProvider && (
        <div className="card stack">
          <a className="button button-primary" href={organisationSignInUrl(returnTo)}>
            {t('signin.organisation')}
          </a>
        </div>
      )}
      {withProvider && withPassword && (
        <h2 className="subtle-heading">{t('signin.orPassword')}</h2>
      )}
      {withPassword && (
        <form className="card stack" onSubmit={submit} aria-describedby={error ? errorId : undefined}>
          <div className="field">
            <label htmlFor={emailId}>{t('signin.email')}</label>
            <input
              id={emailId}
              type="email"
              autoComplete="username"
              required
              value={email}
              onChange={(event) => setEmail(event.target.value)}
            />
          </div>
          <div className="field">
            <label htmlFor={passwordId}>{t('signin.password')}</label>
            <input
              id={passwordId}
              type="password"
              autoComplete="current-password"
              required
              value={password}
              onChange={(event) => setPassword(event.target.value)}
            />
          </div>
          {error && (
            <p id={errorId} className="form-error" role="alert">
              {error}
            </p>
          )}
          <button type="submit" className="button button-primary" disabled={busy}>
            {busy ? t('signin.submitting') : t('signin.submit')}
          </button>
        </form>
      )}
      {demo && withPassword && (
        <div className="hint" data-testid="demo-hint">
          <p>{t('signin.demo', { email: demo.email, password: demo.password })}</p>
          <button
            type="button"
            className="button button-quiet"
            onClick={() => {
              setEmail(demo.email);
              setPassword(demo.password);
            }}
          >
            {t('signin.useDemo')}
          </button>
        </div>
      )}
    </div>
  );
}
