import { type RefObject, useState } from 'react';
import { useNavigate } from 'react-router';

import { type ConsentDecision, type RecordingConsent, type Room, api } from '../api';
import { errorText } from '../errorText';
import { useI18n } from '../hooks/useI18n';
import { useToasts } from '../hooks/useToasts';
import type { RoomRecordings } from '../recordingState';
import { Dialog } from './Dialog';

/** What a room asks of its participants while it records (`recording_consent`). */
export function roomConsent(room: Room): RecordingConsent {
  const configuration = room.configuration as Record<string, unknown> | null;
  const value = configuration?.recording_consent;
  return value === 'notice' || value === 'ask' ? value : 'off';
}

interface ConsentPromptProps {
  room: Room;
  guestName: string | null;
  recordings: RoomRecordings;
  /** The join token the page's media connection holds, if it has one. */
  mediaToken: RefObject<string | null>;
}

/**
 * The notice (`notice`) or question (`ask`) a participant answers for each recording
 * running while they are in a room that asks: shown on arrival and whenever a new one
 * starts. Hosts decide to record and are never asked. Accepting in an `ask` room lets
 * the server grant publishing; leaving answers `declined` and leaves the room.
 */
export function ConsentPrompt({ room, guestName, recordings, mediaToken }: ConsentPromptProps) {
  const { t } = useI18n();
  const navigate = useNavigate();
  const push = useToasts();
  const [answered, setAnswered] = useState<ReadonlySet<string>>(new Set());
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const consent = roomConsent(room);
  const pending = Object.values(recordings)
    .filter((recording) => recording?.may_be_recording)
    .map((recording) => recording?.ref ?? '')
    .filter((ref) => ref && !answered.has(ref));
  if (consent === 'off' || room.is_administrable || pending.length === 0) return null;

  const answer = async (decision: ConsentDecision) => {
    setBusy(true);
    setError(null);
    try {
      // The token proves who answers; a page without media fetches one for the purpose.
      const token = mediaToken.current ?? (await api.roomToken(room.id, guestName)).token;
      await api.answerConsent(room.id, token, decision);
      setAnswered((current) => new Set([...current, ...pending]));
    } catch (failure) {
      if (decision === 'accepted') {
        setError(t('consent.failed', { detail: errorText(failure, t) }));
        return;
      }
    } finally {
      setBusy(false);
    }
    if (decision === 'declined') {
      push({ tone: 'info', message: t('consent.left') });
      navigate('/');
    }
  };

  const asking = consent === 'ask';
  return (
    <Dialog
      title={t(asking ? 'consent.askTitle' : 'consent.noticeTitle')}
      // Escape does not dismiss it: the question stands until it is answered.
      onClose={() => {}}
      actions={
          <>
            <button type="button" className="button" disabled={busy} onClick={() => void answer('declined')}>
              {t('consent.leave')}
            </button>
            <button
              type="button"
              className="button button-primary"
              data-autofocus
              disabled={busy}
              onClick={() => void answer('accepted')}
            >
              {t(asking ? 'consent.accept' : 'consent.ok')}
            </button>
          </>
      }
    >
      <p>{t(asking ? 'consent.askText' : 'consent.noticeText')}</p>
      {error && <p role="alert">{error}</p>}
    </Dialog>
  );
}
