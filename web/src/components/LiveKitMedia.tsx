// Loaded on demand: livekit-client and its styles are most of the app's weight and only a
// room page with real media needs them.
import { LiveKitRoom, VideoConference } from '@livekit/components-react';
import '@livekit/components-styles';
import { type RefObject, useEffect, useState } from 'react';

import { api } from '../api';
import { errorText } from '../errorText';
import { useI18n } from '../hooks/useI18n';
import { useLoad } from '../hooks/useLoad';

interface LiveKitMediaProps {
  roomId: string;
  guestName: string | null;
  /** Holds the join token in use: it proves who answers a consent question. */
  tokenRef: RefObject<string | null>;
}

export function LiveKitMedia({ roomId, guestName, tokenRef }: LiveKitMediaProps) {
  const { t } = useI18n();
  // Each join asks for a fresh token: a token is short-lived and tied to one connection.
  const [attempt, setAttempt] = useState(0);
  const token = useLoad(() => api.roomToken(roomId, guestName), [roomId, guestName, attempt]);
  useEffect(() => {
    tokenRef.current = token.data?.token ?? null;
  }, [token.data, tokenRef]);
  const [ended, setEnded] = useState<{ error: string | null } | null>(null);

  const rejoin = () => {
    setEnded(null);
    token.setData(() => null);
    setAttempt((n) => n + 1);
  };

  if (token.error || ended) {
    const error = token.error ? errorText(token.error, t) : ended?.error;
    return (
      <div className="media-message">
        {error ? (
          <p role="alert">{t('room.mediaError', { detail: error })}</p>
        ) : (
          <p>{t('room.left')}</p>
        )}
        <button type="button" className="button" onClick={rejoin}>
          {t('room.rejoin')}
        </button>
      </div>
    );
  }
  if (!token.data) {
    return <p className="media-message">{t('room.connecting')}</p>;
  }
  return (
    <LiveKitRoom
      className="livekit-room"
      data-lk-theme="default"
      serverUrl={token.data.url}
      token={token.data.token}
      connect
      // Devices stay off until the person turns them on in the control bar: joining
      // should not spring a camera prompt on anyone.
      audio={false}
      video={false}
      onError={(error) => setEnded({ error: error.message })}
      onDisconnected={() => setEnded((current) => current ?? { error: null })}
    >
      <VideoConference />
    </LiveKitRoom>
  );
}
