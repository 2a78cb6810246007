import type { ChangeFeed, Mirror } from '../collections/change-feed.ts'
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

/** A user as the rights check needs it. */
export interface UserRoles {
  readonly domainId: string
  readonly roles: readonly string[]
}

/** API keys (by hash) and their users' roles, in memory: no store read per admin request. */
export class KeyRing {
  readonly #byHash = new Map<string, KeyEntry>()
  readonly #byId = new Map<string, KeyEntry>()
  readonly #users = new Map<string, UserRoles>()
  readonly #store: Store
  readonly #keysMirror: Mirror
  readonly #usersMirror: Mirror

  constructor(store: Store, changes: ChangeFeed, onError: (error: unknown) => void) {
    this.#store = store
    this.#keysMirror = changes.mirror(
      'api_keys',
      { put: (scope, doc) => this.#putKey(scope as string, doc), remove: (id) => this.#removeKey(id) },
      (scope, id) => store.table('api_keys').get(scope, id),
      onError,
    )
    this.#usersMirror = changes.mirror(
      'users',
      {
        put: (scope, doc) => this.#users.set(doc.id, { domainId: scope as string, roles: doc.roles as string[] }),
        remove: (id) => this.#users.delete(id),
      },
      (scope, id) => store.table('users').get(scope, id),
      onError,
    )
  }

  /** Fills the ring from the store (changes that arrive meanwhile win). */
  async load(): Promise<void> {
    await this.#usersMirror.seed(() => this.#store.table('users').scan())
    await this.#keysMirror.seed(() => this.#store.table('api_keys').scan())
  }

  /** The holder of the API key whose SHA-256 is `keyHash`, or undefined. */
  byKeyHash(keyHash: string): KeyHolder | undefined {
    const entry = this.#byHash.get(keyHash)
    if (!entry) return undefined
    const user = this.#users.get(entry.userId)
    return user ? { keyId: entry.keyId, userId: entry.userId, domainId: entry.domainId, roles: user.roles } : undefined
  }

  /** A user's domain and roles, or undefined for a user that does not exist. */
  user(userId: string): UserRoles | undefined {
    return this.#users.get(userId)
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
