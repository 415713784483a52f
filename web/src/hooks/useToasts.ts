import { createContext, useContext } from 'react';

export type ToastTone = 'info' | 'success' | 'error' | 'alert';

export interface ToastInput {
  message: string;
  tone: ToastTone;
  detail?: string;
  link?: { to: string; label: string };
  /** A button in the toast; pressing it also dismisses the toast. */
  action?: { label: string; onClick: () => void };
}

export const ToastContext = createContext<((toast: ToastInput) => void) | null>(null);

/** Shows a short-lived notification in the page's polite live region. */
export function useToasts(): (toast: ToastInput) => void {
  const push = useContext(ToastContext);
  if (!push) throw new Error('useToasts outside ToastProvider');
  return push;
}
