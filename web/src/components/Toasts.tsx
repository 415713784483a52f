import { type ReactNode, useCallback, useEffect, useRef, useState } from 'react';
import { Link } from 'react-router';

import { useI18n } from '../hooks/useI18n';
import { ToastContext, type ToastInput } from '../hooks/useToasts';

const LIFETIME_MS = 8_000;

type Toast = ToastInput & { id: number };

/**
 * The notification area. The live region exists before any toast so that screen readers
 * announce each one as it is added; a time-limit toast is an alert on top of that.
 */
export function ToastProvider({ children }: { children: ReactNode }) {
  const { t } = useI18n();
  const [toasts, setToasts] = useState<Toast[]>([]);
  const nextId = useRef(0);

  const push = useCallback((toast: ToastInput) => {
    nextId.current += 1;
    const id = nextId.current;
    setToasts((current) => [...current, { ...toast, id }]);
  }, []);

  const dismiss = useCallback((id: number) => {
    setToasts((current) => current.filter((toast) => toast.id !== id));
  }, []);

  return (
    <ToastContext.Provider value={push}>
      {children}
      <section className="toast-region" aria-label={t('toast.region')}>
        <div aria-live="polite" className="toast-stack">
          {toasts.map((toast) => (
            <ToastItem key={toast.id} toast={toast} onDismiss={dismiss} />
          ))}
        </div>
      </section>
    </ToastContext.Provider>
  );
}

function ToastItem({ toast, onDismiss }: { toast: Toast; onDismiss: (id: number) => void }) {
  const { t } = useI18n();
  // Hovering or focusing a toast holds it, so nobody loses it while reading or reaching
  // its link.
  const [held, setHeld] = useState(false);

  useEffect(() => {
    if (held) return;
    const timer = window.setTimeout(() => onDismiss(toast.id), LIFETIME_MS);
    return () => window.clearTimeout(timer);
  }, [held, onDismiss, toast.id]);

  return (
    <div
      className={`toast toast-${toast.tone}`}
      data-testid="toast"
      role={toast.tone === 'alert' ? 'alert' : undefined}
      onMouseEnter={() => setHeld(true)}
      onMouseLeave={() => setHeld(false)}
      onFocus={() => setHeld(true)}
      onBlur={(event) => {
        if (!event.currentTarget.contains(event.relatedTarget)) setHeld(false);
      }}
    >
      <div className="toast-body">
        <p className="toast-message">{toast.message}</p>
        {toast.detail && <p className="toast-detail">{toast.detail}</p>}
        {toast.link && (
          <Link className="toast-link" to={toast.link.to}>
            {toast.link.label}
          </Link>
        )}
        {toast.action && (
          <button
            type="button"
            className="toast-link toast-action"
            onClick={() => {
              toast.action?.onClick();
              onDismiss(toast.id);
            }}
          >
            {toast.action.label}
          </button>
        )}
      </div>
      {/* The cross is drawn by CSS so that the toast's text is only its message. */}
      <button
        type="button"
        className="toast-close"
        aria-label={t('toast.dismiss')}
        onClick={() => onDismiss(toast.id)}
      />
    </div>
  );
}
