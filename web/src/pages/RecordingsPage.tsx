import { Link } from 'react-router';

import { api } from '../api';
import { Pagination } from '../components/Pagination';
import { StatusLabel } from '../components/StatusLabel';
import { errorText } from '../errorText';
import { formatClock, formatDateTime } from '../format';
import { useDocumentTitle } from '../hooks/useDocumentTitle';
import { useI18n } from '../hooks/useI18n';
import { useLoad } from '../hooks/useLoad';
import { usePageParam } from '../hooks/usePageParam';
import { useSession } from '../hooks/useSession';
import { modeLabel } from '../modeLabel';

export function RecordingsPage() {
  const { t, language } = useI18n();
  const { config } = useSession();
  const [page, setPage] = usePageParam();
  const recordings = useLoad(() => api.recordings(page), [page]);
  useDocumentTitle(t('recordings.title'));

  return (
    <>
      <h1>{t('recordings.title')}</h1>
      {recordings.error && <p role="alert">{errorText(recordings.error, t)}</p>}
      {!recordings.data && !recordings.error && <p>{t('common.loading')}</p>}
      {recordings.data?.results.length === 0 && (
        <p className="empty">{t('recordings.empty')}</p>
      )}
      {recordings.data && recordings.data.results.length > 0 && (
        <ul className="item-list">
          {recordings.data.results.map((recording) => (
            <li key={recording.id} className="item" data-testid="recording-item">
              <div className="item-main">
                <Link className="item-title" to={`/recording/${recording.id}`}>
                  {recording.room.name}
                  <span className="item-subtitle">
                    {formatDateTime(language, recording.created_at)}
                  </span>
                </Link>
                <dl className="item-meta">
                  <div>
                    <dt>{t('recordings.mode')}</dt>
                    <dd>{modeLabel(recording.mode, config.recording, t)}</dd>
                  </div>
                  <div>
                    <dt>{t('recordings.status')}</dt>
                    <dd>
                      <StatusLabel status={recording.status} />
                    </dd>
                  </div>
                  {recording.duration_ms !== null && (
                    <div>
                      <dt>{t('recordings.duration')}</dt>
                      <dd>{formatClock(recording.duration_ms)}</dd>
                    </div>
                  )}
                </dl>
              </div>
            </li>
          ))}
        </ul>
      )}
      {recordings.data && (
        <Pagination page={page} count={recordings.data.count} onPage={setPage} />
      )}
    </>
  );
}
