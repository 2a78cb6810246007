import type { License } from '../config.ts'
import type { DomainDirectory } from '../domains/domain-directory.ts'
import { AppError } from '../errors.ts'
import type { Store } from '../store/store.ts'
import { BUILT_IN_TYPES } from './channel-schemas.ts'

export interface LicenseUse {
  readonly type: string
  /** null: unlimited. */
  readonly limit: number | null
  readonly used: number
}

/** SPEC §3.2: each channel uses one unit of its type; limits per domain or installation-wide. */
export class Licensing {
  readonly #domains: DomainDirectory
  readonly #fallback: License | undefined

  constructor(domains: DomainDirectory, fallback: License | undefined) {
    this.#domains = domains
    this.#fallback = fallback
  }

  limit(domainId: string, type: string): number | null {
    const license = this.#domains.byId(domainId)?.license ?? this.#fallback
    const limit = license?.[type]
    return limit === undefined ? null : limit
  }

  /**
   * Refuses (1403) one more channel of `type` in the domain when its licence is full. Runs in the
   * write's transaction under a per-domain lock, so concurrent creates on any node cannot overshoot.
   */
  async reserve(tx: Store, domainId: string, type: string): Promise<void> {
    const limit = this.limit(domainId, type)
    if (limit === null) return
    await tx.lock(`license:${domainId}`)
    const used = await tx.table('integration_points').count(domainId, [{ path: ['type'], value: type }])
    if (used >= limit) {
      throw new AppError(
        'forbidden',
        `the licence allows ${limit} channel${limit === 1 ? '' : 's'} of type '${type}' and ${used} ${used === 1 ? 'is' : 'are'} in use`,
      )
    }
  }

  /** Limits and use of every type the domain has, may have or is licensed for. */
  async view(store: Store, domainId: string): Promise<LicenseUse[]> {
    const used = await store.table('integration_points').countBy(domainId, 'type')
    const types = new Set<string>(BUILT_IN_TYPES)
    for (const { doc } of await store.table('channel_types').scan()) types.add(doc.type as string)
    const license = this.#domains.byId(domainId)?.license ?? this.#fallback
    for (const type of Object.keys(license ?? {})) types.add(type)
    for (const type of used.keys()) types.add(type)
    return [...types].sort().map((type) => ({ type, limit: this.limit(domainId, type), used: used.get(type) ?? 0 }))
  }
}
