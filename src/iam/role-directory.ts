import type { ChangeFeed, Mirror } from '../collections/change-feed.ts'
import type { Doc, Store } from '../store/store.ts'
import type { Role } from './iam-schemas.ts'
import { type CompiledPermission, compilePermission } from './permissions.ts'

interface RoleEntry {
  readonly key: string
  readonly permissions: readonly CompiledPermission[]
}

/** Every role's permissions, compiled, in memory: the rights check of a request reads no store. */
export class RoleDirectory {
  readonly #byKey = new Map<string, RoleEntry>()
  readonly #byId = new Map<string, RoleEntry>()
  readonly #store: Store
  readonly #mirror: Mirror

  constructor(store: Store, changes: ChangeFeed, onError: (error: unknown) => void) {
    this.#store = store
    this.#mirror = changes.mirror(
      'roles',
      { put: (scope, doc) => this.#put(scope as string, doc), remove: (id) => this.#remove(id) },
      (scope, id) => store.table('roles').get(scope, id),
      onError,
    )
  }

  /** Fills the directory from the store (changes that arrive meanwhile win). */
  async load(): Promise<void> {
    await this.#mirror.seed(() => this.#store.table('roles').scan())
  }

  /** The permissions of role `code` in the domain; empty for a role that does not exist. */
  permissions(domainId: string, code: string): readonly CompiledPermission[] {
    return this.#byKey.get(`${domainId}\u0000${code}`)?.permissions ?? []
  }

  #put(domainId: string, doc: Doc): void {
    this.#remove(doc.id)
    const role = doc as unknown as Role
    const entry: RoleEntry = { key: `${domainId}\u0000${role.code}`, permissions: role.permissions.map(compilePermission) }
    this.#byKey.set(entry.key, entry)
    this.#byId.set(doc.id, entry)
  }

  #remove(id: string): void {
    const old = this.#byId.get(id)
    if (!old) return
    this.#byId.delete(id)
    if (this.#byKey.get(old.key) === old) this.#byKey.delete(old.key)
  }
}
