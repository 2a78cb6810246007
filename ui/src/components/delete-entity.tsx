import type { ComponentChildren } from 'preact'
import { useState } from 'preact/hooks'
import { request } from '../api/client.ts'
import { navigate } from '../app/router.ts'
import { Confirm } from './confirm.tsx'

interface DeleteEntityProps {
  /** The entity's REST path (`/rest/v1/…/<id>`). */
  readonly path: string
  /** The question, e.g. "Delete channel shop?". */
  readonly title: string
  /** What deleting it means, said in the dialog. */
  readonly children: ComponentChildren
  /** The console page to show once it is gone. */
  readonly backTo: string
  readonly onError: (error: unknown) => void
}

/** A Delete button that asks first, deletes through the API, and leaves the page. */
export function DeleteEntity({ path, title, children, backTo, onError }: DeleteEntityProps) {
  const [asking, setAsking] = useState(false)
  const remove = async () => {
    setAsking(false)
    try {
      await request('DELETE', path)
      navigate(backTo)
    } catch (error) {
      onError(error)
    }
  }
  return (
    <>
      <button type="button" class="danger" onClick={() => setAsking(true)}>
        Delete
      </button>
      <Confirm open={asking} title={title} confirm="Delete" danger onConfirm={remove} onCancel={() => setAsking(false)}>
        {children}
      </Confirm>
    </>
  )
}
