import { useCallback, useEffect, useRef, useState } from 'preact/hooks'

export type Resource<T> =
  | { readonly state: 'loading'; readonly reload: () => void }
  | { readonly state: 'error'; readonly error: unknown; readonly reload: () => void }
  | { readonly state: 'ready'; readonly data: T; readonly reload: () => void }

/** Loads `load()` when `keys` change; `reload()` loads again, keeping the old data on screen meanwhile. */
export function useResource<T>(load: () => Promise<T>, keys: readonly unknown[]): Resource<T> {
  const [value, setValue] = useState<{ state: 'loading' } | { state: 'error'; error: unknown } | { state: 'ready'; data: T }>({
    state: 'loading',
  })
  const generation = useRef(0)
  const loader = useRef(load)
  loader.current = load
  const run = useCallback(() => {
    const mine = ++generation.current
    loader.current().then(
      (data) => {
        if (generation.current === mine) setValue({ state: 'ready', data })
      },
      (error: unknown) => {
        if (generation.current === mine) setValue({ state: 'error', error })
      },
    )
  }, [])
  // The caller names what the load depends on (`keys`).
  useEffect(() => {
    setValue({ state: 'loading' })
    run()
  }, keys)
  return { ...value, reload: run } as Resource<T>
}
