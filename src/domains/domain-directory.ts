import type { ChangeFeed, Mirror } from '../collections/change-feed.ts'
import type { License, ScriptIsolation } from '../config.ts'
import type { Store } from '../store/store.ts'
import type { Domain } from './domain-schemas.ts'

export interface DomainRef {
  readonly id: string
  readonly name: string
  /** The domain's own licence, or null to use the installation default. */
  readonly license: License | null
  /** Where its scripts run, when the domain sets it (`opts.script_isolation`). */
  readonly scriptIsolation: ScriptIsolation | undefined
}

/** Every domain by name and id, in memory: requests name their domain on every call. */
export class DomainDirectory {
  readonly #byId = new Map<string, DomainRef>()
  readonly #byName = new Map<string, DomainRef>()
  readonly #store: Store
  readonly #mirror: Mirror

  constructor(store: Store, changes: ChangeFeed, onError: (error: unknown) => void) {
    this.#store = store
    this.#mirror = changes.mirror(
      'domains',
      { put: (_scope, doc) => this.#put(doc as unknown as Domain), remove: (id) => this.#remove(id) },
      (_scope, id) => store.table('domains').get(null, id),
      onError,
    )
  }

  /** Fills the directory from the store (changes that arrive meanwhile win). */
  async load(): Promise<void> {
    await this.#mirror.seed(() => this.#store.table('domains').scan())
  }

  byName(name: string): DomainRef | undefined {
    return this.#byName.get(name)
  }

  byId(id: string): DomainRef | undefined {
    return this.#byId.get(id)
  }

  #put(domain: Domain): void {
    this.#remove(domain.id)
    const ref: DomainRef = {
      id: domain.id,
      name: domain.name,
      license: domain.license,
      scriptIsolation: domain.opts.script_isolation,
    }
    this.#byId.set(ref.id, ref)
    this.#byName.set(ref.name, ref)
  }

  #remove(id: string): void {
    const old = this.#byId.get(id)
    if (!old) return
    this.#byId.delete(id)
    if (this.#byName.get(old.name) === old) this.#byName.delete(old.name)
  }
}
