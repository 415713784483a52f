import { type FormEvent, useId, useState } from 'react';
import { Link } from 'react-router';

import { type AccessLevel, type Room, api } from '../api';
import { Pagination } from '../components/Pagination';
import { errorText } from '../errorText';
import { useCopyLink } from '../hooks/useCopyLink';
import { useDocumentTitle } from '../hooks/useDocumentTitle';
import { useI18n } from '../hooks/useI18n';
import { useLoad } from '../hooks/useLoad';
import { usePageParam } from '../hooks/usePageParam';

const ACCESS_LEVELS: readonly AccessLevel[] = ['public', 'trusted', 'restricted'];

function roomUrl(slug: string): string {
  return `${window.location.origin}/rooms/${encodeURIComponent(slug)}`;
}

export function RoomsPage() {
  const { t } = useI18n();
  const [page, setPage] = usePageParam();
  const rooms = useLoad(() => api.rooms(page), [page]);
  const { copy, message } = useCopyLink();
  useDocumentTitle(t('rooms.title'));

  return (
    <>
      <h1>{t('rooms.title')}</h1>
      <CreateRoomForm
        onCreated={(room) => {
          if (page === 1) {
            rooms.setData((current) =>
              current
                ? { ...current, count: current.count + 1, results: [room, ...current.results] }
                : current,
            );
          } else {
            setPage(1);
          }
        }}
      />
      <section aria-labelledby="rooms-list-title" className="section">
        <h2 id="rooms-list-title">{t('rooms.listTitle')}</h2>
        {rooms.error && <p role="alert">{errorText(rooms.error, t)}</p>}
        {!rooms.data && !rooms.error && <p>{t('common.loading')}</p>}
        {rooms.data?.results.length === 0 && <p className="empty">{t('rooms.empty')}</p>}
        {rooms.data && rooms.data.results.length > 0 && (
          <ul className="item-list">
            {rooms.data.results.map((room) => (
              <li key={room.id} className="item">
                <div className="item-main">
                  <Link id={`room-${room.id}`} className="item-title" to={`/rooms/${room.slug}`}>
                    {room.name}
                  </Link>
                  <span className="tag">{t(`access.${room.access_level}`)}</span>
                </div>
                <button
                  type="button"
                  className="button button-quiet"
                  aria-describedby={`room-${room.id}`}
                  onClick={() => copy(roomUrl(room.slug))}
                >
                  {t('rooms.copyLink')}
                </button>
              </li>
            ))}
          </ul>
        )}
        <p className="copy-status" role="status" aria-live="polite">
          {message}
        </p>
        {rooms.data && <Pagination page={page} count={rooms.data.count} onPage={setPage} />}
      </section>
    </>
  );
}

function CreateRoomForm({ onCreated }: { onCreated: (room: Room) => void }) {
  const { t } = useI18n();
  const [name, setName] = useState('');
  const [access, setAccess] = useState<AccessLevel>('public');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const nameId = useId();
  const accessId = useId();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError('');
    try {
      onCreated(await api.createRoom(name, access));
      setName('');
    } catch (caught) {
      setError(errorText(caught, t));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="create-room-title" className="card">
      <h2 id="create-room-title">{t('rooms.createTitle')}</h2>
      <form className="inline-form" onSubmit={submit}>
        <div className="field field-grow">
          <label htmlFor={nameId}>{t('rooms.name')}</label>
          <input
            id={nameId}
            required
            maxLength={500}
            value={name}
            onChange={(event) => setName(event.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor={accessId}>{t('rooms.access')}</label>
          <select
            id={accessId}
            value={access}
            onChange={(event) => setAccess(event.target.value as AccessLevel)}
          >
            {ACCESS_LEVELS.map((level) => (
              <option key={level} value={level}>
                {t(`access.${level}`)}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" className="button button-primary" disabled={busy}>
          {busy ? t('rooms.creating') : t('rooms.create')}
        </button>
      </form>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
