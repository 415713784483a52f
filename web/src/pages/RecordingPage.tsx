import { useEffect, useRef, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';

import { type Recording, api, urls } from '../api';
import { Dialog } from '../components/Dialog';
import { ShareLinks } from '../components/ShareLinks';
import { StatusLabel } from '../components/StatusLabel';
import { errorText } from '../errorText';
import { formatClock, formatDateTime, formatSize } from '../format';
import { useDocumentTitle } from '../hooks/useDocumentTitle';
import { useI18n } from '../hooks/useI18n';
import { useLoad } from '../hooks/useLoad';
import { useSession } from '../hooks/useSession';
import { useToasts } from '../hooks/useToasts';
import { modeLabel } from '../modeLabel';
import { SAVED_STATUSES, UNAVAILABLE_STATUSES } from '../recordingState';

const POLL_MS = 2_000;
// A transcript takes minutes: its state is asked for less often.
const TRANSCRIPT_POLL_MS = 10_000;

type Availability = 'ready' | 'processing' | 'unavailable' | 'expired';

function availability(recording: Recording): Availability {
  if (recording.is_expired || recording.status === 'expired') return 'expired';
  if (SAVED_STATUSES.has(recording.status)) return 'ready';
  if (UNAVAILABLE_STATUSES.has(recording.status)) return 'unavailable';
  return 'processing';
}

export function RecordingPage() {
  const { t, language } = useI18n();
  const { config } = useSession();
  const { id = '' } = useParams();
  const recording = useLoad(() => api.recording(id), [id]);
  const data = recording.data;
  const state = data ? availability(data) : null;
  const title = data ? `${data.room.name} — ${formatDateTime(language, data.created_at)}` : null;
  useDocumentTitle(title);

  // No stream tells a recording's file or transcript is ready, so ask until it is.
  const { reload } = recording;
  const transcriptPending =
    data?.transcript?.state === 'waiting' || data?.transcript?.state === 'processing';
  useEffect(() => {
    if (state !== 'processing' && !transcriptPending) return;
    const timer = window.setInterval(reload, state === 'processing' ? POLL_MS : TRANSCRIPT_POLL_MS);
    return () => window.clearInterval(timer);
  }, [state, transcriptPending, reload]);

  if (!data) {
    const error = recording.error;
    if (!error) return <p>{t('common.loading')}</p>;
    return (
      <>
        <h1>
          {error.status === 404 ? t('recording.notFound') : errorText(error, t)}
        </h1>
        {error.status === 403 && <p>{t('recording.forbidden')}</p>}
        <Link to="/recordings">{t('recording.back')}</Link>
      </>
    );
  }

  return (
    <>
      <p className="back-link">
        <Link to="/recordings">{t('recording.back')}</Link>
      </p>
      <h1>{title}</h1>
      <dl className="recording-facts">
        <div>
          <dt>{t('recordings.status')}</dt>
          <dd data-testid="recording-status">
            <StatusLabel status={data.status} />
          </dd>
        </div>
        <div>
          <dt>{t('recordings.mode')}</dt>
          <dd>{modeLabel(data.mode, config.recording, t)}</dd>
        </div>
        {data.duration_ms !== null && (
          <div>
            <dt>{t('recordings.duration')}</dt>
            <dd>{formatClock(data.duration_ms)}</dd>
          </div>
        )}
        {data.size_bytes !== null && (
          <div>
            <dt>{t('recording.size')}</dt>
            <dd>{formatSize(language, data.size_bytes)}</dd>
          </div>
        )}
      </dl>
      {data.expired_at && state !== 'expired' && (
        <p>{t('recording.availableUntil', { date: formatDateTime(language, data.expired_at) })}</p>
      )}

      {state === 'expired' && (
        <div className="notice notice-bad">
          <p className="notice-title">{t('recording.expired')}</p>
          {data.expired_at && (
            <p>{t('recording.expiredOn', { date: formatDateTime(language, data.expired_at) })}</p>
          )}
        </div>
      )}
      {state === 'unavailable' && (
        <div className="notice notice-bad">
          <p className="notice-title">{t('recording.unavailable')}</p>
        </div>
      )}
      {state === 'processing' && (
        <div className="notice" role="status">
          <p className="notice-title">{t('recording.processing')}</p>
          <p>{t('recording.processingHint')}</p>
        </div>
      )}
      {state === 'ready' && <Player recording={data} />}
      {data.transcript && (
        <section className="card transcript" aria-labelledby="transcript-title" data-testid="transcript">
          <h2 id="transcript-title">{t('transcript.title')}</h2>
          <p role="status">{t(`transcript.${data.transcript.state}`)}</p>
          {data.transcript.state === 'ready' && data.transcript.url && (
            <a className="button" href={data.transcript.url} target="_blank" rel="noopener noreferrer">
              {t('transcript.open')}
            </a>
          )}
        </section>
      )}
      {data.abilities.share && <Consents recordingId={data.id} />}
      {state === 'ready' && data.abilities.share && <ShareLinks recordingId={data.id} />}
      {data.abilities.destroy && <DeleteRecording recordingId={data.id} />}
    </>
  );
}

/** Who was told or asked about this recording, and what they answered: for its owners,
 * and only when the room asked anyone. */
function Consents({ recordingId }: { recordingId: string }) {
  const { t, language } = useI18n();
  const consents = useLoad(() => api.recordingConsents(recordingId), [recordingId]);
  const answers = consents.data ?? [];
  if (answers.length === 0) return null;
  return (
    <section className="card consents" aria-labelledby="consents-title" data-testid="consents">
      <h2 id="consents-title">{t('consents.title')}</h2>
      <table>
        <thead>
          <tr>
            <th scope="col">{t('consents.name')}</th>
            <th scope="col">{t('consents.answer')}</th>
            <th scope="col">{t('consents.when')}</th>
          </tr>
        </thead>
        <tbody>
          {answers.map((answer) => (
            <tr key={`${answer.name}-${answer.decided_at}`}>
              <td>{answer.is_guest ? t('consents.guest', { name: answer.name }) : answer.name}</td>
              <td>{t(`consents.${answer.consent === 'ask' ? 'ask' : 'notice'}.${answer.decision}`)}</td>
              <td>{formatDateTime(language, answer.decided_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function Player({ recording }: { recording: Recording }) {
  const { t } = useI18n();
  const fallback = t('recording.playerFallback');
  return (
    <div className="player">
      {recording.mode === 'screen_recording' ? (
        <video controls preload="metadata" playsInline data-testid="player" src={urls.media(recording.id)}>
          {fallback}
        </video>
      ) : (
        <audio controls preload="metadata" data-testid="player" src={urls.media(recording.id)}>
          {fallback}
        </audio>
      )}
      <a className="button button-primary" href={urls.media(recording.id, true)} download>
        {t('recording.download')}
      </a>
    </div>
  );
}

function DeleteRecording({ recordingId }: { recordingId: string }) {
  const { t } = useI18n();
  const navigate = useNavigate();
  const push = useToasts();
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const buttonRef = useRef<HTMLButtonElement>(null);

  const remove = async () => {
    setBusy(true);
    try {
      await api.deleteRecording(recordingId);
      push({ tone: 'success', message: t('recording.deleted') });
      navigate('/recordings');
    } catch (caught) {
      setConfirming(false);
      setBusy(false);
      setError(`${t('recording.deleteFailed')}: ${errorText(caught, t)}`);
    }
  };

  return (
    <div className="danger-zone">
      <button
        ref={buttonRef}
        type="button"
        className="button button-danger"
        onClick={() => {
          setError('');
          setConfirming(true);
        }}
      >
        {t('recording.delete')}
      </button>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      {confirming && (
        <Dialog
          title={t('recording.deleteTitle')}
          onClose={() => setConfirming(false)}
          returnFocus={buttonRef}
          actions={
            <>
              <button
                type="button"
                className="button"
                data-autofocus
                onClick={() => setConfirming(false)}
              >
                {t('common.cancel')}
              </button>
              <button
                type="button"
                className="button button-danger"
                disabled={busy}
                onClick={() => void remove()}
              >
                {t('recording.deleteConfirm')}
              </button>
            </>
          }
        >
          <p>{t('recording.deleteText')}</p>
        </Dialog>
      )}
    </div>
  );
}
