import { useId } from 'react';
import { Link, NavLink, useLocation, useNavigate } from 'react-router';

import { useI18n } from '../hooks/useI18n';
import { useSession } from '../hooks/useSession';
import { LANGUAGES, isLanguage } from '../i18n';
import { signInPath } from '../signInPath';

export function Header() {
  const { t, language, setLanguage } = useI18n();
  const { user, signOut } = useSession();
  const location = useLocation();
  const navigate = useNavigate();
  const languageId = useId();

  return (
    <header className="site-header">
      <a className="skip-link" href="#main">
        {t('app.skip')}
      </a>
      <div className="header-inner">
        <Link to="/" className="brand">
          <span className="brand-mark" aria-hidden="true" />
          {t('app.name')}
        </Link>
        {user && (
          <nav aria-label={t('nav.label')} className="main-nav">
            <NavLink to="/" end>
              {t('nav.rooms')}
            </NavLink>
            <NavLink to="/recordings">{t('nav.recordings')}</NavLink>
          </nav>
        )}
        <div className="header-tools">
          <label htmlFor={languageId} className="visually-hidden">
            {t('header.language')}
          </label>
          <select
            id={languageId}
            className="language-select"
            value={language}
            onChange={(event) => {
              if (isLanguage(event.target.value)) setLanguage(event.target.value);
            }}
          >
            {LANGUAGES.map(({ code, name }) => (
              <option key={code} value={code} lang={code}>
                {name}
              </option>
            ))}
          </select>
          {user ? (
            <button
              type="button"
              className="button button-quiet"
              onClick={() => {
                void signOut().then(() => navigate('/signin'));
              }}
            >
              {t('header.signOut')}
            </button>
          ) : (
            location.pathname !== '/signin' && (
              <Link className="button button-quiet" to={signInPath(location.pathname)}>
                {t('header.signIn')}
              </Link>
            )
          )}
        </div>
      </div>
    </header>
  );
}
