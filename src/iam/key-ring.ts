import type { ChangeFeed } from '../collections/change-feed.ts'
import type { Doc, Store } from '../store/store.ts'

export interface KeyHolder {
  readonly keyId: string
  readonly userId: string
  readonly domainId: string
  readonly roles: readonly string[]
}

interface KeyEntry {
  readonly keyId: string
  readonly userId: string
  readonly domainId: string
  readonly hash: string
}

/** API keys (by hash) and their users' roles, in memory: no store read per admin request. */
export class KeyRing {
  readonly #byHash = new Map<string, KeyEntry>()
  readonly #byId = new Map<string, KeyEntry>()
  readonly #roles = new Map<string, readonly string[]>()
  readonly #store: Store

  constructor(store: Store, changes: ChangeFeed, onError: (error: unknown) => void) {
    this.#store = store
    changes.mirror(
      'api_keys',
      { put: (scope, doc) => this.#putKey(scope as string, doc), remove: (id) => this.#removeKey(id) },
      (scope, id) => store.table('api_keys').get(scope, id),
      onError,
    )
    changes.mirror(
      'users',
      { put: (_scope, doc) => this.#roles.set(doc.id, doc.roles as string[]), remove: (id) => this.#roles.delete(id) },
      (scope, id) => store.table('users').get(scope, id),
      onError,
    )
  }

  async load(): Promise<void> {
    for (const { doc } of await this.#store.table('users').scan()) this.#roles.set(doc.id, doc.roles as string[])
    for (const { scope, doc } of await this.#store.table('api_keys').scan()) this.#putKey(scope as string, doc)
  }

  /** The holder of the API key whose SHA-256 is `keyHash`, or undefined. */
  byKeyHash(keyHash: string): KeyHolder | undefined {
    const entry = this.#byHash.get(keyHash)
    if (!entry) return undefined
    const roles = this.#roles.get(entry.userId)
    return roles ? { keyId: entry.keyId, userId: entry.userId, domainId: entry.domainId, roles } : undefined
  }

  /** The roles of a user, or undefined for an unknown user. */
  rolesOf(userId: string): readonly string[] | undefined {
    return this.#roles.get(userId)
  }

  #putKey(domainId: string, doc: Doc): void {
    this.#removeKey(doc.id)
    const entry: KeyEntry = { keyId: doc.id, userId: doc.userid as string, domainId, hash: doc.key_hash as string }
    this.#byHash.set(entry.hash, entry)
    this.#byId.set(entry.keyId, entry)
  }

  #removeKey(id: string): void {
    const old = this.#byId.get(id)
    if (!old) return
    this.#byId.delete(id)
    this.#byHash.delete(old.hash)
  }
}
