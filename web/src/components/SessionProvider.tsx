import { type ReactNode, useCallback, useEffect, useMemo, useState } from 'react';

import {
  ApiError,
  type Config,
  type Language,
  type User,
  api,
  setUnauthorizedHandler,
} from '../api';
import { I18nContext } from '../hooks/useI18n';
import { SessionContext } from '../hooks/useSession';
import { browserLanguage, isLanguage, translator } from '../i18n';

const LANGUAGE_KEY = 'meet-recorder.language';

function storedLanguage(): Language | null {
  try {
    const value = localStorage.getItem(LANGUAGE_KEY);
    return isLanguage(value) ? value : null;
  } catch {
    return null;
  }
}

function storeLanguage(language: Language) {
  try {
    localStorage.setItem(LANGUAGE_KEY, language);
  } catch {
    // Private browsing may refuse storage; the choice then lasts for this page only.
  }
}

type Loaded = { user: User | null; config: Config };

/**
 * Loads who is signed in and the service's configuration before anything renders, and
 * owns the interface language: the profile's when signed in, else the last choice made
 * in this browser, else the browser's own.
 */
export function SessionProvider({ children }: { children: ReactNode }) {
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [loadFailed, setLoadFailed] = useState(false);
  const [language, setLanguageState] = useState<Language>(
    () => storedLanguage() ?? browserLanguage(),
  );

  const load = useCallback(async () => {
    setLoadFailed(false);
    try {
      const [user, config] = await Promise.all([
        api.me().catch((error: unknown) => {
          if (error instanceof ApiError && error.status === 401) return null;
          throw error;
        }),
        api.config(),
      ]);
      setLoaded({ user, config });
    } catch {
      setLoadFailed(true);
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  const user = loaded?.user ?? null;
  const profileLanguage = user?.language;
  useEffect(() => {
    if (isLanguage(profileLanguage)) setLanguageState(profileLanguage);
  }, [profileLanguage]);

  useEffect(() => {
    document.documentElement.lang = language;
  }, [language]);

  const setUser = useCallback((next: User | null) => {
    setLoaded((current) => (current && current.user !== next ? { ...current, user: next } : current));
  }, []);

  // Any request refused for want of a session signs the app out, so that guarded pages
  // send the person to sign in instead of showing errors.
  useEffect(() => {
    setUnauthorizedHandler(() => setUser(null));
    return () => setUnauthorizedHandler(null);
  }, [setUser]);

  const setLanguage = useCallback(
    (next: Language) => {
      setLanguageState(next);
      storeLanguage(next);
      if (user) {
        // The choice already applies here; failing to save it only loses it elsewhere.
        api.setLanguage(next).then(setUser, () => undefined);
      }
    },
    [user, setUser],
  );

  const i18n = useMemo(
    () => ({ language, setLanguage, t: translator(language) }),
    [language, setLanguage],
  );

  const session = useMemo(
    () =>
      loaded && {
        user: loaded.user,
        config: loaded.config,
        signIn: async (email: string, password: string) => {
          setUser(await api.login(email, password));
        },
        signOut: async () => {
          const answer = await api.logout().catch(() => undefined);
          setUser(null);
          // Signed in through the organisation: its session ends too.
          if (answer?.redirect) window.location.assign(answer.redirect);
        },
      },
    [loaded, setUser],
  );

  let content: ReactNode;
  if (session) {
    content = <SessionContext.Provider value={session}>{children}</SessionContext.Provider>;
  } else if (loadFailed) {
    content = (
      <main className="page page-center">
        <p role="alert">{i18n.t('error.unavailable')}</p>
        <button type="button" className="button" onClick={() => void load()}>
          {i18n.t('common.retry')}
        </button>
      </main>
    );
  } else {
    content = (
      <main className="page page-center" aria-busy="true">
        <p>{i18n.t('common.loading')}</p>
      </main>
    );
  }
  return <I18nContext.Provider value={i18n}>{content}</I18nContext.Provider>;
}
