import { useId, useState } from 'react';

import { ApiError, type Config, type Mode, api } from '../api';
import { errorText } from '../errorText';
import { useI18n } from '../hooks/useI18n';
import { MODES, type RoomRecordings, mayBeRecording } from '../recordingState';

interface RequestRecordingProps {
  roomId: string;
  guestName: string | null;
  /** The modes this service records. */
  modes: Mode[];
  recording: Config['recording'];
  recordings: RoomRecordings;
}

/** For everyone but the hosts: ask them to record (they get a toast). */
export function RequestRecording({
  roomId,
  guestName,
  modes,
  recording,
  recordings,
}: RequestRecordingProps) {
  const { t } = useI18n();
  const [status, setStatus] = useState('');
  const [posting, setPosting] = useState(false);
  const titleId = useId();

  const ask = async (mode: Mode) => {
    setPosting(true);
    setStatus('');
    try {
      await api.requestRecording(roomId, mode, guestName);
      setStatus(t('request.sent'));
    } catch (error) {
      const tooSoon = error instanceof ApiError && error.code === 'too-many-requests';
      setStatus(tooSoon ? t('request.tooSoon') : errorText(error, t));
    } finally {
      setPosting(false);
    }
  };

  return (
    <section className="card recording-panel" aria-labelledby={titleId}>
      <h2 id={titleId}>{t('panel.title')}</h2>
      <p className="muted">{t('request.restricted')}</p>
      <div className="request-actions">
        {MODES.filter((mode) => modes.includes(mode)).map((mode) => {
        const live = recordings[mode];
        return (
          <button
            key={mode}
            type="button"
            className="button"
            disabled={posting || (live !== undefined && mayBeRecording(live))}
            onClick={() => void ask(mode)}
          >
            {mode === 'transcript' && !recording.transcription_service
              ? t('request.ask.audio')
              : t(`request.ask.${mode}`)}
          </button>
        );
        })}
      </div>
      <p className="muted" role="status" data-testid="request-status">
        {status}
      </p>
    </section>
  );
}
