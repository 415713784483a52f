import { useCallback, useEffect, useState } from 'react';

import { useI18n } from './useI18n';

const MESSAGE_MS = 4_000;

async function writeClipboard(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // The async clipboard needs a secure context (plain HTTP on a LAN address is not);
    // the old selection-based copy still works there.
    const field = document.createElement('textarea');
    field.value = text;
    field.setAttribute('readonly', '');
    field.style.position = 'fixed';
    field.style.opacity = '0';
    document.body.append(field);
    field.select();
    try {
      return document.execCommand('copy');
    } catch {
      return false;
    } finally {
      field.remove();
    }
  }
}

/**
 * Copies a link and gives the outcome as a short message, meant for a polite live region
 * that is always rendered (so the message is announced, not just shown).
 */
export function useCopyLink(): { copy: (url: string) => void; message: string } {
  const { t } = useI18n();
  const [message, setMessage] = useState('');

  useEffect(() => {
    if (!message) return;
    const timer = window.setTimeout(() => setMessage(''), MESSAGE_MS);
    return () => window.clearTimeout(timer);
  }, [message]);

  const copy = useCallback(
    (url: string) => {
      // Clearing first makes a second copy of the same link announce again.
      setMessage('');
      void writeClipboard(url).then((ok) => setMessage(t(ok ? 'copy.done' : 'copy.failed')));
    },
    [t],
  );

  return { copy, message };
}
