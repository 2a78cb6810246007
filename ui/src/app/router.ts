import { useEffect, useState } from 'preact/hooks'

/** The console lives under /ui/ and routes with the history API; the server answers index.html for every page. */
export const BASE = '/ui'

const listeners = new Set<() => void>()

function current(): string {
  const path = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : location.pathname
  return path === '' ? '/' : path
}

addEventListener('popstate', () => {
  for (const listener of listeners) listener()
})

export function navigate(path: string, { replace = false } = {}): void {
  const url = BASE + path
  if (replace) history.replaceState(null, '', url)
  else history.pushState(null, '', url)
  for (const listener of listeners) listener()
  scrollTo(0, 0)
}

/** The path after /ui (with its query), re-rendering on navigation. */
export function useRoute(): { path: string; query: URLSearchParams } {
  const [, setTick] = useState(0)
  useEffect(() => {
    const listener = () => setTick((tick) => tick + 1)
    listeners.add(listener)
    return () => {
      listeners.delete(listener)
    }
  }, [])
  return { path: current(), query: new URLSearchParams(location.search) }
}

/** `pattern` like `/channels/:id` against `path`: the parameters, or null. */
export function matchPath(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split('/')
  const got = path.split('/')
  if (want.length !== got.length) return null
  const params: Record<string, string> = {}
  for (let i = 0; i < want.length; i++) {
    const part = want[i] as string
    if (part.startsWith(':')) params[part.slice(1)] = decodeURIComponent(got[i] as string)
    else if (part !== got[i]) return null
  }
  return params
}
