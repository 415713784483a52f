import { type ReactNode, type RefObject, useId, useLayoutEffect, useRef } from 'react';

interface DialogProps {
  title: string;
  children: ReactNode;
  /** The buttons; the one marked `data-autofocus` receives focus on open. */
  actions: ReactNode;
  onClose: () => void;
  /** Where focus goes once closed; by default, where it was when the dialog opened. */
  returnFocus?: RefObject<HTMLElement | null>;
}

/**
 * A modal dialog, open while mounted. The native modal `<dialog>` makes the rest of the
 * page inert, which is the focus trap; Escape asks the owner to close it so the owner's
 * state stays the only truth about whether it is open.
 */
export function Dialog({ title, children, actions, onClose, returnFocus }: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const bodyId = useId();
  const returnFocusRef = useRef(returnFocus);

  // A layout effect: focus must be back on its target by the time the dialog leaves the
  // page, not a frame later.
  useLayoutEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    dialog.showModal();
    const preferred = dialog.querySelector<HTMLElement>('[data-autofocus]');
    (preferred ?? dialog).focus();
    return () => {
      dialog.close();
      const target = returnFocusRef.current?.current ?? opener;
      target?.focus();
      if (target && document.activeElement !== target) {
        // Still disabled (a busy button): try again once it has re-rendered.
        window.requestAnimationFrame(() => target.focus());
      }
    };
  }, []);

  return (
    <dialog
      ref={ref}
      className="dialog"
      role="dialog"
      aria-modal="true"
      aria-labelledby={titleId}
      aria-describedby={bodyId}
      tabIndex={-1}
      onCancel={(event) => {
        event.preventDefault();
        onClose();
      }}
    >
      <h2 id={titleId} className="dialog-title">
        {title}
      </h2>
      <div id={bodyId} className="dialog-body">
        {children}
      </div>
      <div className="dialog-actions">{actions}</div>
    </dialog>
  );
}
