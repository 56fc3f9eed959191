"use client";

import { type ReactNode, useEffect, useId, useRef } from "react";

const FOCUSABLE_PARTS = [
  "a[href]",
  "button:not([disabled])",
  'input:not([disabled]):not([type="hidden"])',
  "select:not([disabled])",
  "textarea:not([disabled])",
  '[tabindex]:not([tabindex="-1"])',
];
const FOCUSABLE = FOCUSABLE_PARTS.join(", ");
/** each alternative scoped to the body: a confirmation's first stop is Cancel, not the header's Close */
const FOCUSABLE_IN_BODY = FOCUSABLE_PARTS.map((p) => `.modal-body ${p}`).join(", ");

/**
 * A modal dialog: the page behind is inert (native <dialog>), focus moves into it and stays there (Tab and
 * Shift+Tab wrap), Esc closes it, and focus returns to what opened it.
 */
export function Modal({
  title,
  onClose,
  children,
  footer,
  wide = false,
  describedBy,
}: {
  title: string;
  onClose: () => void;
  children: ReactNode;
  footer?: ReactNode;
  wide?: boolean;
  describedBy?: string;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const onCloseRef = useRef(onClose);
  onCloseRef.current = onClose;

  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    const opener = document.activeElement as HTMLElement | null;
    if (!dialog.open) dialog.showModal();
    const first =
      dialog.querySelector<HTMLElement>("[data-autofocus]") ??
      dialog.querySelector<HTMLElement>(FOCUSABLE_IN_BODY) ??
      dialog.querySelector<HTMLElement>(FOCUSABLE);
    first?.focus();
    // content that arrives later (loaded options) takes the focus once, unless the person already moved it
    const initial = document.activeElement;
    const observer = new MutationObserver(() => {
      const target = dialog.querySelector<HTMLElement>("[data-autofocus]");
      if (!target) return;
      observer.disconnect();
      if (document.activeElement === initial || !dialog.contains(document.activeElement)) target.focus();
    });
    if (!dialog.querySelector("[data-autofocus]")) observer.observe(dialog, { childList: true, subtree: true });
    return () => {
      observer.disconnect();
      if (dialog.open) dialog.close();
      if (opener?.isConnected) opener.focus();
    };
  }, []);

  const onKeyDown = (e: React.KeyboardEvent<HTMLDialogElement>) => {
    if (e.key === "Escape") {
      e.preventDefault();
      onCloseRef.current();
      return;
    }
    if (e.key !== "Tab" || !ref.current) return;
    const items = [...ref.current.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((el) => el.offsetParent !== null);
    if (items.length === 0) return;
    const first = items[0];
    const last = items[items.length - 1];
    if (e.shiftKey && document.activeElement === first) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first.focus();
    }
  };

  return (
    <dialog
      ref={ref}
      className={wide ? "modal modal-wide" : "modal"}
      aria-labelledby={titleId}
      aria-describedby={describedBy}
      onKeyDown={onKeyDown}
      onCancel={(e) => {
        e.preventDefault();
        onCloseRef.current();
      }}
    >
      <header className="modal-head">
        <h2 id={titleId}>{title}</h2>
        <button type="button" className="icon-button" aria-label="Close" onClick={() => onCloseRef.current()}>
          ×
        </button>
      </header>
      <div className="modal-body">{children}</div>
      {footer && <footer className="modal-foot">{footer}</footer>}
    </dialog>
  );
}

/** A yes/no question before an action; shows the server's error in place if the action fails. */
export function ConfirmDialog({
  title,
  children,
  confirmLabel,
  danger = false,
  pending,
  error,
  onConfirm,
  onClose,
}: {
  title: string;
  children: ReactNode;
  confirmLabel: string;
  danger?: boolean;
  pending: boolean;
  error: string | null;
  onConfirm: () => void;
  onClose: () => void;
}) {
  const descId = useId();
  return (
    <Modal title={title} onClose={onClose} describedBy={descId}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          onConfirm();
        }}
      >
        <div id={descId}>{children}</div>
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        <div className="modal-actions">
          <button type="button" className="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className={danger ? "button danger" : "button primary"} disabled={pending}>
            {pending ? "Working…" : confirmLabel}
          </button>
        </div>
      </form>
    </Modal>
  );
}
