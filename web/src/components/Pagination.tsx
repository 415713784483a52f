import { PAGE_SIZE } from '../api';
import { useI18n } from '../hooks/useI18n';

interface PaginationProps {
  page: number;
  count: number;
  onPage: (page: number) => void;
}

export function Pagination({ page, count, onPage }: PaginationProps) {
  const { t } = useI18n();
  const pages = Math.max(1, Math.ceil(count / PAGE_SIZE));
  if (pages <= 1) return null;
  return (
    <nav className="pagination" aria-label={t('common.pagination')}>
      <button
        type="button"
        className="button button-quiet"
        disabled={page <= 1}
        onClick={() => onPage(page - 1)}
      >
        {t('common.previous')}
      </button>
      <span>{t('common.pageOf', { page, pages })}</span>
      <button
        type="button"
        className="button button-quiet"
        disabled={page >= pages}
        onClick={() => onPage(page + 1)}
      >
        {t('common.next')}
      </button>
    </nav>
  );
}
