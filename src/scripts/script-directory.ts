import type { ChangeFeed, Mirror } from '../collections/change-feed.ts'
import { normaliseCode } from '../collections/codes.ts'
import type { Store } from '../store/store.ts'
import type { Svcscript } from './svcscript-schemas.ts'

/**
 * Every script in memory by domain and code: a trigger finds its script without a store read,
 * and a saved change replaces the entry (a new object, hence a new compiled version) at once.
 */
export class ScriptDirectory {
  readonly #byId = new Map<string, { domainId: string; script: Svcscript }>()
  readonly #byCode = new Map<string, Svcscript>()
  readonly #store: Store
  readonly #mirror: Mirror

  constructor(store: Store, changes: ChangeFeed, onError: (error: unknown) => void) {
    this.#store = store
    this.#mirror = changes.mirror(
      'svcscripts',
      { put: (scope, doc) => this.#put(scope as string, doc as unknown as Svcscript), remove: (id) => this.#remove(id) },
      (scope, id) => store.table('svcscripts').get(scope, id),
      onError,
    )
  }

  /** Fills the directory from the store (changes that arrive meanwhile win). */
  async load(): Promise<void> {
    await this.#mirror.seed(() => this.#store.table('svcscripts').scan())
  }

  /** A script and its domain by the script's id. */
  byId(id: string): { readonly domainId: string; readonly script: Svcscript } | undefined {
    return this.#byId.get(id)
  }

  /** The script with `code` (in any Unicode spelling: codes are kept in NFC). */
  byCode(domainId: string, code: string): Svcscript | undefined {
    return this.#byCode.get(`${domainId}\u0000${normaliseCode(code)}`)
  }

  #put(domainId: string, script: Svcscript): void {
    this.#remove(script.id)
    this.#byId.set(script.id, { domainId, script })
    this.#byCode.set(`${domainId}\u0000${script.code}`, script)
  }

  #remove(id: string): void {
    const old = this.#byId.get(id)
    if (!old) return
    this.#byId.delete(id)
    const key = `${old.domainId}\u0000${old.script.code}`
    if (this.#byCode.get(key) === old.script) this.#byCode.delete(key)
  }
}
