import { Link } from 'react-router';

import { useDocumentTitle } from '../hooks/useDocumentTitle';
import { useI18n } from '../hooks/useI18n';

export function NotFoundPage() {
  const { t } = useI18n();
  useDocumentTitle(t('notFound.title'));
  return (
    <div className="narrow">
      <h1>{t('notFound.title')}</h1>
      <p>{t('notFound.text')}</p>
      <Link to="/">{t('notFound.home')}</Link>
    </div>
  );
}
