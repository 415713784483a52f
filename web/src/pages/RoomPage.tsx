import { type FormEvent, Suspense, lazy, useCallback, useId, useRef, useState } from 'react';
import { Link, Navigate, useLocation, useParams } from 'react-router';

import { type Mode, type RecordingRequest, type Room, api } from '../api';
import { ConsentPrompt } from '../components/ConsentPrompt';
import { RecordingBadge } from '../components/RecordingBadge';
import { RECORDING_PANEL_ID, RecordingPanel } from '../components/RecordingPanel';
import { RequestRecording } from '../components/RequestRecording';
import { SimulatedMedia } from '../components/SimulatedMedia';
import { errorText } from '../errorText';
import { useDocumentTitle } from '../hooks/useDocumentTitle';
import { useI18n } from '../hooks/useI18n';
import { useLoad } from '../hooks/useLoad';
import { useRecordingState } from '../hooks/useRecordingState';
import { useSession } from '../hooks/useSession';
import { type ToastInput, useToasts } from '../hooks/useToasts';
import type { Translate } from '../i18n';
import type { Transition } from '../recordingState';
import { signInPath } from '../signInPath';

const LiveKitMedia = lazy(() =>
  import('../components/LiveKitMedia').then(
    (module) => ({ default: module.LiveKitMedia }),
    // A deploy since this page loaded removes the old chunk: say so rather than crash.
    () => ({ default: MediaUnavailable }),
  ),
);

function MediaUnavailable() {
  const { t } = useI18n();
  return (
    <p className="media-message" role="alert">
      {t('room.mediaError', { detail: t('error.network') })}
    </p>
  );
}

const GUEST_NAME_KEY = 'meet-recorder.guest-name';

export function RoomPage() {
  const { t } = useI18n();
  const { slug = '' } = useParams();
  const { user } = useSession();
  const location = useLocation();
  // Reloaded on sign-in or sign-out: the role, and whether a guest may enter, change.
  const room = useLoad(() => api.room(slug), [slug, user?.id]);
  const [guestName, setGuestName] = useState<string | null>(null);
  useDocumentTitle(room.data?.name ?? null);

  if (room.error) {
    const status = room.error.status;
    if (!user && (status === 401 || status === 403 || status === 404)) {
      return <Navigate to={signInPath(location.pathname)} replace />;
    }
    if (status === 404) {
      return (
        <>
          <h1>{t('room.notFound')}</h1>
          <p>{t('room.notFoundText')}</p>
          <Link to="/">{t('room.backHome')}</Link>
        </>
      );
    }
    return (
      <>
        <p role="alert">{errorText(room.error, t)}</p>
        <button type="button" className="button" onClick={room.reload}>
          {t('common.retry')}
        </button>
      </>
    );
  }
  if (!room.data) return <p>{t('common.loading')}</p>;

  if (!user && guestName === null) {
    return (
      <>
        <h1>{room.data.name}</h1>
        <GuestForm onJoin={setGuestName} />
      </>
    );
  }
  return (
    <RoomView
      room={room.data}
      guestName={user ? null : guestName}
      displayName={user ? user.full_name || user.email : (guestName ?? '')}
    />
  );
}

function GuestForm({ onJoin }: { onJoin: (name: string) => void }) {
  const { t } = useI18n();
  const location = useLocation();
  const [name, setName] = useState(() => {
    try {
      return localStorage.getItem(GUEST_NAME_KEY) ?? '';
    } catch {
      return '';
    }
  });
  const nameId = useId();

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const trimmed = name.trim();
    if (!trimmed) return;
    try {
      localStorage.setItem(GUEST_NAME_KEY, trimmed);
    } catch {
      // Not remembering the name next time is fine.
    }
    onJoin(trimmed);
  };

  return (
    <section className="card narrow" aria-labelledby="guest-title">
      <h2 id="guest-title">{t('room.guestTitle')}</h2>
      <form className="stack" onSubmit={submit}>
        <div className="field">
          <label htmlFor={nameId}>{t('room.guestName')}</label>
          <input
            id={nameId}
            required
            // The server's limit for a guest's name.
            maxLength={64}
            autoComplete="name"
            value={name}
            onChange={(event) => setName(event.target.value)}
          />
        </div>
        <button type="submit" className="button button-primary">
          {t('room.join')}
        </button>
      </form>
      <p>
        <Link to={signInPath(location.pathname)}>{t('room.signInInstead')}</Link>
      </p>
    </section>
  );
}

function transitionToast(
  transition: Transition,
  t: Translate,
  canOpenRecording: boolean,
): ToastInput {
  const { kind, mode, recording } = transition;
  switch (kind) {
    case 'started':
      return { tone: 'info', message: t(`toast.started.${mode}`) };
    case 'paused':
      return { tone: 'info', message: t(`toast.paused.${mode}`) };
    case 'resumed':
      return { tone: 'info', message: t(`toast.resumed.${mode}`) };
    case 'limit':
      return { tone: 'alert', message: t(`toast.limit.${mode}`) };
    case 'failed':
      return {
        tone: 'error',
        message: t(`toast.failed.${mode}`),
        detail: recording.error ?? undefined,
      };
    case 'stopped':
      return {
        tone: 'success',
        message: t(`toast.stopped.${mode}`),
        link:
          canOpenRecording && recording.id
            ? { to: `/recording/${recording.id}`, label: t('toast.openRecording') }
            : undefined,
      };
  }
}

interface RoomViewProps {
  room: Room;
  guestName: string | null;
  displayName: string;
}

function RoomView({ room, guestName, displayName }: RoomViewProps) {
  const { t } = useI18n();
  const { config } = useSession();
  const push = useToasts();
  const onTransition = useCallback(
    (transition: Transition) => push(transitionToast(transition, t, room.is_administrable)),
    [push, t, room.is_administrable],
  );
  const onRequest = useCallback(
    (request: RecordingRequest) =>
      push({
        tone: 'info',
        message: t(`toast.requested.${request.mode}`, { name: request.name }),
        action: {
          label: t('toast.openPanel'),
          onClick: () => {
            const panel = document.getElementById(RECORDING_PANEL_ID);
            panel?.scrollIntoView({ block: 'nearest' });
            panel?.focus();
          },
        },
      }),
    [push, t],
  );
  const live = useRecordingState(room.id, guestName, onTransition, onRequest);
  const mediaToken = useRef<string | null>(null);
  const recordingAvailable =
    config.recording.is_enabled && config.recording.available_modes.length > 0;
  const showPanel = room.is_administrable && recordingAvailable;
  const showRequest = !room.is_administrable && recordingAvailable;
  const modes: Mode[] = config.recording.available_modes;

  return (
    <>
      <div className="room-heading">
        <h1>{room.name}</h1>
        <RecordingBadge recordings={live.recordings} />
      </div>
      <ConsentPrompt
        room={room}
        guestName={guestName}
        recordings={live.recordings}
        mediaToken={mediaToken}
      />
      {live.status === 'reconnecting' && (
        <p className="muted" role="status">
          {t('room.reconnecting')}
        </p>
      )}
      <div className={showPanel || showRequest ? 'room-layout with-panel' : 'room-layout'}>
        <section className="media-area" aria-label={t('room.meeting')}>
          {config.room_media === 'simulated' ? (
            <SimulatedMedia name={displayName} />
          ) : (
            <Suspense fallback={<p className="media-message">{t('room.connecting')}</p>}>
              <LiveKitMedia roomId={room.id} guestName={guestName} tokenRef={mediaToken} />
            </Suspense>
          )}
        </section>
        {showPanel && (
          <RecordingPanel
            room={room}
            recording={config.recording}
            recordings={live.recordings}
            loaded={live.loaded}
          />
        )}
        {showRequest && (
          <RequestRecording
            roomId={room.id}
            guestName={guestName}
            modes={modes}
            recording={config.recording}
            recordings={live.recordings}
          />
        )}
      </div>
    </>
  );
}
