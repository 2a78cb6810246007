import type { ComponentChildren } from 'preact'
import { plainWords } from '../api/client.ts'
import type { Resource } from '../app/use-resource.ts'

export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <p class="state" role="status" aria-live="polite">
      {what}…
    </p>
  )
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <div class="state empty">{children}</div>
}

export function ErrorNote({ error, retry }: { error: unknown; retry?: () => void }) {
  return (
    <div class="note error" role="alert">
      <span>{plainWords(error)}</span>
      {retry && (
        <button type="button" class="link" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  )
}

/** Loading and error states of a resource, its content once ready. */
export function Loaded<T>({ resource, children }: { resource: Resource<T>; children: (data: T) => ComponentChildren }) {
  if (resource.state === 'loading') return <Loading />
  if (resource.state === 'error') return <ErrorNote error={resource.error} retry={resource.reload} />
  return <>{children(resource.data)}</>
}
