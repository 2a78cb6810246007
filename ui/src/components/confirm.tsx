import type { ComponentChildren } from 'preact'
import { useEffect, useId, useRef } from 'preact/hooks'

interface ConfirmProps {
  readonly open: boolean
  readonly title: string
  readonly children: ComponentChildren
  readonly confirm: string
  readonly danger?: boolean
  readonly onConfirm: () => void
  readonly onCancel: () => void
}

/** A modal question (the native dialog: focus is trapped, Escape cancels). */
export function Confirm({ open, title, children, confirm, danger, onConfirm, onCancel }: ConfirmProps) {
  const dialog = useRef<HTMLDialogElement>(null)
  // A page may hold several questions (delete, rotate): each title needs an id of its own.
  const titleId = useId()
  useEffect(() => {
    const element = dialog.current
    if (!element) return
    if (open && !element.open) element.showModal()
    if (!open && element.open) element.close()
  }, [open])
  return (
    <dialog ref={dialog} onCancel={onCancel} aria-labelledby={titleId}>
      <h2 id={titleId}>{title}</h2>
      <div>{children}</div>
      <div class="actions">
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="button" class={danger ? 'danger' : 'primary'} onClick={onConfirm}>
          {confirm}
        </button>
      </div>
    </dialog>
  )
}
