/**
 * The console's two dialog shapes, so every screen's dialogs share one footer: a form dialog
 * (fields, Cancel and a submit button, pending and error state) and a confirmation before a
 * consequential write (what will happen, Cancel and the action).
 */
import type { ReactNode, SubmitEvent } from 'react';
import { Alert, Modal } from './ui';

type Tone = 'primary' | 'danger' | 'plain';
const buttonClass = (tone: Tone) =>
  tone === 'plain'
    ? 'button'
    : tone === 'danger'
      ? 'button button-danger'
      : 'button button-primary';

/** Cancel and the action: a submit button inside a form, or a button that calls `onAction`. */
function DialogButtons({
  onCancel,
  cancelLabel = 'Cancel',
  actionLabel,
  onAction,
  tone,
  disabled,
}: {
  onCancel: () => void;
  cancelLabel?: string | undefined;
  /** No action button without a label (a read-only dialog keeps its Close button). */
  actionLabel: ReactNode;
  onAction?: () => void;
  tone: Tone;
  disabled: boolean;
}) {
  return (
    <>
      <button type="button" className="button" onClick={onCancel}>
        {cancelLabel}
      </button>
      {actionLabel !== undefined && actionLabel !== null && actionLabel !== false && (
        <button
          type={onAction === undefined ? 'submit' : 'button'}
          className={buttonClass(tone)}
          disabled={disabled}
          onClick={onAction}
        >
          {actionLabel}
        </button>
      )}
    </>
  );
}

interface DialogProps {
  title: string;
  onCancel: () => void;
  /** The write is under way: the action button waits. */
  pending: boolean;
  /** The write's error, shown above the content. */
  error?: string | undefined;
  /** False while the input cannot be sent yet (nothing chosen, a required box unchecked). */
  ready?: boolean;
  cancelLabel?: string;
  wide?: boolean;
  children: ReactNode;
}

/** A form in a dialog: Enter submits it, the browser checks `required` fields first. */
export function FormDialog({
  title,
  submitLabel,
  onSubmit,
  onCancel,
  pending,
  error,
  ready = true,
  tone = 'primary',
  cancelLabel,
  wide,
  children,
}: DialogProps & {
  submitLabel: ReactNode;
  onSubmit: () => void | Promise<void>;
  tone?: Tone;
}) {
  const submit = (event: SubmitEvent) => {
    event.preventDefault();
    void onSubmit();
  };
  return (
    <Modal title={title} onClose={onCancel} wide={wide}>
      <form className="form" onSubmit={submit}>
        {error !== undefined && <Alert>{error}</Alert>}
        {children}
        <div className="modal-footer">
          <DialogButtons
            onCancel={onCancel}
            cancelLabel={cancelLabel}
            actionLabel={submitLabel}
            tone={tone}
            disabled={pending || !ready}
          />
        </div>
      </form>
    </Modal>
  );
}

/** A confirmation before a consequential write: what will happen, Cancel, and the action. */
export function ConfirmDialog({
  title,
  confirmLabel,
  onConfirm,
  onCancel,
  pending,
  error,
  ready = true,
  tone = 'danger',
  cancelLabel,
  wide,
  children,
}: DialogProps & {
  confirmLabel: ReactNode;
  onConfirm: () => void | Promise<void>;
  tone?: Tone;
}) {
  return (
    <Modal
      title={title}
      onClose={onCancel}
      wide={wide}
      footer={
        <DialogButtons
          onCancel={onCancel}
          cancelLabel={cancelLabel}
          actionLabel={confirmLabel}
          onAction={() => void onConfirm()}
          tone={tone}
          disabled={pending || !ready}
        />
      }
    >
      {error !== undefined && <Alert>{error}</Alert>}
      {children}
    </Modal>
  );
}

/**
 * A secret shown once (an API or SCIM token): the warning, the values to copy, and one button
 * that says the user has stored it.
 */
export function SecretOnceDialog({
  title,
  warning,
  onClose,
  wide,
  children,
}: {
  title: string;
  warning: ReactNode;
  onClose: () => void;
  wide?: boolean;
  children: ReactNode;
}) {
  return (
    <Modal
      title={title}
      onClose={onClose}
      wide={wide}
      footer={
        <button type="button" className="button button-primary" onClick={onClose}>
          I have stored the token
        </button>
      }
    >
      <Alert tone="warning">{warning}</Alert>
      {children}
    </Modal>
  );
}
