import { navigate } from '../app/router.ts'

/**
 * A list's filters and page, kept in the URL (so a filtered list can be linked to and survives a
 * reload): `set` changes a filter and goes back to the first page; `page` moves to an offset.
 */
export function urlFilters(path: string, query: URLSearchParams) {
  const go = (next: URLSearchParams) => navigate(`${path}${next.size > 0 ? `?${next}` : ''}`, { replace: true })
  return {
    set(name: string, value: string) {
      const next = new URLSearchParams(query)
      if (value) next.set(name, value)
      else next.delete(name)
      next.delete('offset')
      go(next)
    },
    page(offset: number) {
      const next = new URLSearchParams(query)
      next.set('offset', String(offset))
      go(next)
    },
  }
}

/** "1–50 of 120" with Newer and Older, for newest-first lists. */
export function Pager({
  offset,
  shown,
  total,
  size,
  onPage,
}: {
  offset: number
  shown: number
  total: number
  size: number
  onPage: (offset: number) => void
}) {
  return (
    <div class="pager">
      <span>
        {offset + 1}–{offset + shown} of {total}
      </span>
      <button type="button" disabled={offset === 0} onClick={() => onPage(Math.max(offset - size, 0))}>
        Newer
      </button>
      <button type="button" disabled={offset + shown >= total} onClick={() => onPage(offset + size)}>
        Older
      </button>
    </div>
  )
}

/** A filter that came from a link (an entity, a script), shown with a button that drops it. */
export function FilterChip({ label, value, onClear }: { label: string; value: string; onClear: () => void }) {
  return (
    <p class="chip">
      {label} <code>{value}</code>{' '}
      <button type="button" class="link" onClick={onClear} aria-label={`Any ${label}`}>
        ×
      </button>
    </p>
  )
}
