import type { Store } from '../store/store.ts'
import { WriteConflictError } from '../store/store.ts'

/** A key's use is written at most this often (ms): `last_used_at` is exact to about a minute. */
const WRITE_EVERY_MS = 60_000

/**
 * Keeps `last_used_at` of API keys: the first use a process sees is written at once, later ones
 * at most once a minute per key, off the request path and outside the audit log (a use is not
 * a change). The write checks the key's revision, so it never undoes a concurrent PATCH: a
 * conflict skips that write (the next use writes again).
 */
export class KeyUsage {
  readonly #store: Store
  readonly #onError: (error: unknown) => void
  readonly #written = new Map<string, number>()

  constructor(store: Store, onError: (error: unknown) => void) {
    this.#store = store
    this.#onError = onError
  }

  used(domainId: string, keyId: string): void {
    const now = Date.now()
    const last = this.#written.get(keyId)
    if (last !== undefined && now - last < WRITE_EVERY_MS) return
    this.#written.set(keyId, now)
    this.#write(domainId, keyId, new Date(now).toISOString()).catch(this.#onError)
  }

  async #write(domainId: string, keyId: string, at: string): Promise<void> {
    const keys = this.#store.table('api_keys')
    const found = await keys.read(domainId, keyId)
    if (!found) return
    try {
      await keys.update(domainId, { ...found.doc, last_used_at: at }, { rev: found.rev })
    } catch (error) {
      if (!(error instanceof WriteConflictError)) throw error
    }
  }
}
