import { type FormEvent, useId, useState } from 'react';

import { type ShareLink, api } from '../api';
import { errorText } from '../errorText';
import { formatDateTime } from '../format';
import { useCopyLink } from '../hooks/useCopyLink';
import { useI18n } from '../hooks/useI18n';
import { useLoad } from '../hooks/useLoad';

const EXPIRY_DAYS = [1, 7, 30] as const;

/** Public links to a saved recording: created here, shown once, listed, revoked. */
export function ShareLinks({ recordingId }: { recordingId: string }) {
  const { t, language } = useI18n();
  const links = useLoad(() => api.shareLinks(recordingId), [recordingId]);
  const [expiry, setExpiry] = useState('');
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<string | null>(null);
  const [notice, setNotice] = useState('');
  const [error, setError] = useState('');
  const { copy, message } = useCopyLink();
  const titleId = useId();
  const expiryId = useId();
  const linkId = useId();

  const create = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError('');
    try {
      const link = await api.createShareLink(recordingId, expiry ? Number(expiry) : null);
      setCreated(link.url ?? `${window.location.origin}/s/${link.token}`);
      links.setData((current) =>
        current
          ? { ...current, count: current.count + 1, results: [link, ...current.results] }
          : current,
      );
    } catch (caught) {
      setError(`${t('share.failed')}: ${errorText(caught, t)}`);
    } finally {
      setBusy(false);
    }
  };

  const revoke = async (link: ShareLink) => {
    setError('');
    setNotice('');
    try {
      await api.revokeShareLink(recordingId, link.id);
      links.setData((current) =>
        current
          ? {
              ...current,
              results: current.results.map((item) =>
                item.id === link.id ? { ...item, revoked: true } : item,
              ),
            }
          : current,
      );
      setNotice(t('share.revokedDone'));
    } catch (caught) {
      setError(`${t('share.failed')}: ${errorText(caught, t)}`);
    }
  };

  return (
    <section className="card" aria-labelledby={titleId}>
      <h2 id={titleId}>{t('share.title')}</h2>
      <p className="muted">{t('share.intro')}</p>
      <form className="inline-form" onSubmit={create}>
        <div className="field">
          <label htmlFor={expiryId}>{t('share.expiry')}</label>
          <select id={expiryId} value={expiry} onChange={(event) => setExpiry(event.target.value)}>
            <option value="">{t('share.never')}</option>
            {EXPIRY_DAYS.map((days) => (
              <option key={days} value={days}>
                {days === 1 ? t('share.after1') : t('share.afterDays', { count: days })}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" className="button button-primary" disabled={busy}>
          {busy ? t('share.creating') : t('share.create')}
        </button>
      </form>
      {created && (
        <div className="new-link">
          <label htmlFor={linkId}>{t('share.link')}</label>
          <div className="copy-row">
            <input
              id={linkId}
              readOnly
              value={created}
              data-testid="share-link-url"
              onFocus={(event) => event.currentTarget.select()}
            />
            <button type="button" className="button" onClick={() => copy(created)}>
              {t('share.copy')}
            </button>
          </div>
          <p className="muted">{t('share.linkHint')}</p>
        </div>
      )}
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      <p className="copy-status" role="status">
        {message || notice}
      </p>
      <h3>{t('share.existing')}</h3>
      {links.error && <p role="alert">{errorText(links.error, t)}</p>}
      {links.data?.results.length === 0 && <p className="empty">{t('share.none')}</p>}
      {links.data && links.data.results.length > 0 && (
        <ul className="item-list">
          {links.data.results.map((link) => {
            const createdText = t('share.created', {
              date: formatDateTime(language, link.created_at),
            });
            return (
              <li key={link.id} className="item" data-testid="share-link">
                <div className="item-main">
                  <span id={`link-${link.id}`}>{createdText}</span>
                  <span className="muted">
                    {link.expires_at
                      ? t('share.expires', { date: formatDateTime(language, link.expires_at) })
                      : t('share.noExpiry')}
                  </span>
                  {link.revoked && <span className="tag tag-bad">{t('share.revoked')}</span>}
                  {!link.revoked && link.is_expired && (
                    <span className="tag tag-bad">{t('share.expired')}</span>
                  )}
                </div>
                {!link.revoked && (
                  <button
                    type="button"
                    className="button button-danger-quiet"
                    aria-describedby={`link-${link.id}`}
                    onClick={() => void revoke(link)}
                  >
                    {t('share.revoke')}
                  </button>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
