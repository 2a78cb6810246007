import { timingSafeEqual } from 'node:crypto'
import type { CallContext } from '../collections/collection.ts'
import type { DomainDirectory, DomainRef } from '../domains/domain-directory.ts'
import { DEFAULT_DOMAIN, MASTER_DOMAIN } from '../domains/domain-schemas.ts'
import { AppError } from '../errors.ts'
import { secretDigest } from '../ids.ts'
import type { KeyRing } from './key-ring.ts'
import { ADMIN_ROLE } from './roles.ts'

/** What a route needs: a domain to act in, or master rights (the global collections). */
export type Access = 'domain' | 'master'

export interface Authenticated extends CallContext {
  /** The domain the call acts in (for master routes: the caller's own). */
  readonly domain: DomainRef
}

export const DOMAIN_HEADER = 'switchboard-domain'

const BEARER = /^Bearer[ \t]+([^ \t]+)[ \t]*$/i

/**
 * Admin API authentication (SPEC §2): `Authorization: Bearer <api key>`. The root key acts in
 * `default` or in the domain named by `Switchboard-Domain`; a user's key acts in its own domain only.
 */
export class Authenticator {
  readonly #keys: KeyRing
  readonly #domains: DomainDirectory
  readonly #rootDigest: Buffer

  constructor(keys: KeyRing, domains: DomainDirectory, rootHash: string) {
    this.#keys = keys
    this.#domains = domains
    this.#rootDigest = Buffer.from(rootHash, 'hex')
  }

  authenticate(authorization: string | undefined, domainName: string | undefined, access: Access): Authenticated {
    const key = authorization === undefined ? undefined : BEARER.exec(authorization)?.[1]
    if (key === undefined) {
      throw new AppError('unauthorized', 'an API key is required: send Authorization: Bearer <key>')
    }
    const digest = secretDigest(key)
    if (timingSafeEqual(digest, this.#rootDigest)) {
      const domain = this.#domain(domainName ?? DEFAULT_DOMAIN)
      return { domain, scope: access === 'master' ? null : domain.id, actor: { kind: 'root', id: 'root' } }
    }
    const holder = this.#keys.byKeyHash(digest.toString('hex'))
    const domain = holder && this.#domains.byId(holder.domainId)
    if (!holder || !domain) throw new AppError('unauthorized', 'the API key is not valid')
    if (domainName !== undefined && domainName !== domain.name) {
      throw new AppError('forbidden', `this key acts in domain '${domain.name}' only`)
    }
    const admin = holder.roles.includes(ADMIN_ROLE)
    if (access === 'master' && !(admin && domain.name === MASTER_DOMAIN)) {
      throw new AppError('forbidden', 'this needs master rights: the root key or an admin of the master domain')
    }
    if (!admin) throw new AppError('forbidden', "the key's roles do not allow this")
    return { domain, scope: access === 'master' ? null : domain.id, actor: { kind: 'user', id: holder.userId } }
  }

  #domain(name: string): DomainRef {
    const domain = this.#domains.byName(name)
    if (!domain) throw new AppError('not_found', `domain '${name}' does not exist`)
    return domain
  }
}
