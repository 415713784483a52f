import { type FormEvent, useId, useState } from 'react';
import { Navigate, useSearchParams } from 'react-router';

import { ApiError, NETWORK_ERROR } from '../api';
import { useDocumentTitle } from '../hooks/useDocumentTitle';
import { useI18n } from '../hooks/useI18n';
import { useSession } from '../hooks/useSession';
import { safeReturnPath } from '../signInPath';

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

  if (user) return <Navigate to={safeReturnPath(params.get('next'))} replace />;

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
  return (
    <div className="narrow">
      <h1>{t('signin.title')}</h1>
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
      {demo && (
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
