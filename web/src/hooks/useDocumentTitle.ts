import { useEffect } from 'react';

import { useI18n } from './useI18n';

/** Names the browser tab after the page, so history and tabs tell pages apart. */
export function useDocumentTitle(title: string | null) {
  const { t } = useI18n();
  const app = t('app.name');
  useEffect(() => {
    document.title = title ? `${title} · ${app}` : app;
  }, [title, app]);
}
