import type { Store } from '../store/store.ts'

interface Pending {
  readonly fn: (tx: Store) => Promise<unknown>
  readonly resolve: (value: unknown) => void
  readonly reject: (error: unknown) => void
}

/**
 * Writes of one event-loop turn share one transaction (as the store queue's accepts do): each
 * delivery made and each attempt recorded would otherwise be a write transaction of its own, and
 * SQLite's writers take turns (measured: 13 % of a bare loop's deliveries per second with one
 * transaction per write). One commit at a time; writes that arrive meanwhile make the next one. A
 * batch that fails is run again write by write, so one bad write fails only itself.
 */
export class GroupCommit {
  readonly #store: Store
  #pending: Pending[] = []
  #committing = false

  constructor(store: Store) {
    this.#store = store
  }

  run<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.#pending.length === 0 && !this.#committing) setImmediate(() => void this.#commit())
      this.#pending.push({ fn, resolve: resolve as (value: unknown) => void, reject })
    })
  }

  async #commit(): Promise<void> {
    const batch = this.#pending
    this.#pending = []
    this.#committing = true
    try {
      const results: unknown[] = []
      await this.#store.transaction(async (tx) => {
        for (const item of batch) results.push(await item.fn(tx))
      })
      for (const [i, item] of batch.entries()) item.resolve(results[i])
    } catch (error) {
      if (batch.length === 1) (batch[0] as Pending).reject(error)
      else {
        for (const item of batch) await this.#store.transaction(item.fn).then(item.resolve, item.reject)
      }
    } finally {
      this.#committing = false
      if (this.#pending.length > 0) setImmediate(() => void this.#commit())
    }
  }
}
