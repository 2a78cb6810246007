import { timingSafeEqual } from 'node:crypto'
import type { CallContext } from '../collections/collection.ts'
import type { DomainDirectory, DomainRef } from '../domains/domain-directory.ts'
import { DEFAULT_DOMAIN, MASTER_DOMAIN } from '../domains/domain-schemas.ts'
import { AppError } from '../errors.ts'
import { bearerToken } from '../http/bearer-token.ts'
import { secretDigest } from '../ids.ts'
import type { KeyRing } from './key-ring.ts'
import { ALL_RIGHTS } from './permissions.ts'
import type { AccessRights } from './token-rights.ts'

/** What a route needs: a domain to act in, or master rights (the global collections). */
export type Access = 'domain' | 'master'

export interface Authenticated extends CallContext {
  /** The domain the call acts in (for master routes: the caller's own). */
  readonly domain: DomainRef
  /** The execution whose script made this call (`api.request`); undefined for every other caller. */
  readonly origin?: CallOrigin
}

/**
 * The execution behind an in-process call, which the runs the call starts (a test run, a
 * replay) continue: they are one deeper in its chain (MAX_CHAIN_DEPTH) and end when it ends.
 */
export interface CallOrigin {
  /** Its depth in the chain (0: a trigger started it). */
  readonly depth: number
  /** Aborted when it ends (done, timed out, aborted). */
  readonly signal: AbortSignal
}

export const DOMAIN_HEADER = 'switchboard-domain'

const ROOT_ACTOR = Object.freeze({ kind: 'root', id: 'root' } as const)

/**
 * Admin API authentication (SPEC §2) and authorisation (SPEC §10): `Authorization: Bearer <api
 * key>`. The root key acts in `default` or in the domain named by `Switchboard-Domain`; a user's
 * key acts in its own domain only, with the rights of its user's roles.
 */
export class Authenticator {
  readonly #keys: KeyRing
  readonly #domains: DomainDirectory
  readonly #rights: AccessRights
  readonly #rootDigest: Buffer
  readonly #onKeyUsed: (domainId: string, keyId: string) => void

  /** `onKeyUsed`: told each time an API key authenticates a call (its last-used time). */
  constructor(
    keys: KeyRing,
    domains: DomainDirectory,
    rights: AccessRights,
    rootHash: string,
    onKeyUsed: (domainId: string, keyId: string) => void = () => {},
  ) {
    this.#onKeyUsed = onKeyUsed
    this.#keys = keys
    this.#domains = domains
    this.#rights = rights
    this.#rootDigest = Buffer.from(rootHash, 'hex')
  }

  authenticate(authorization: string | undefined, domainName: string | undefined, access: Access): Authenticated {
    const key = bearerToken(authorization)
    if (key === undefined) {
      throw new AppError('unauthorized', 'an API key is required: send Authorization: Bearer <key>')
    }
    const digest = secretDigest(key)
    if (timingSafeEqual(digest, this.#rootDigest)) {
      const domain = this.#domain(domainName ?? DEFAULT_DOMAIN)
      return { domain, scope: access === 'master' ? null : domain.id, actor: ROOT_ACTOR, rights: ALL_RIGHTS }
    }
    const holder = this.#keys.byKeyHash(digest.toString('hex'))
    const domain = holder && this.#domains.byId(holder.domainId)
    if (!holder || !domain) throw new AppError('unauthorized', 'the API key is not valid')
    if (domainName !== undefined && domainName !== domain.name) {
      throw new AppError('forbidden', `this key acts in domain '${domain.name}' only`)
    }
    this.#onKeyUsed(domain.id, holder.keyId)
    return {
      domain,
      scope: access === 'master' ? null : domain.id,
      actor: { kind: 'user', id: holder.userId, key_id: holder.keyId },
      rights: this.#rights.ofRoles(domain.id, holder.roles),
    }
  }

  /**
   * Refuses (1403) a call its caller's rights do not allow: `method` on the REST path `path`.
   * Master routes need the root key, or a user of the master domain whose roles allow the call
   * (the built-in `admin` there allows all); a channel's token never has master rights.
   */
  authorize(auth: Authenticated, access: Access, method: string, path: string): void {
    if (auth.actor.kind === 'root') return
    if (access === 'master') {
      // A channel's token never has master rights, also when it acts as its opts.userid user.
      const user = auth.actor.kind === 'user' && auth.actor.via === undefined
      if (user && auth.domain.name === MASTER_DOMAIN && auth.rights.allows(method, path)) return
      throw new AppError('forbidden', 'this needs master rights: the root key or an admin of the master domain')
    }
    if (auth.rights.allows(method, path)) return
    const whose = auth.actor.kind === 'user' && auth.actor.via === undefined ? "the key's roles" : "the token's roles"
    throw new AppError('forbidden', `${whose} do not allow ${method} ${path}`)
  }

  #domain(name: string): DomainRef {
    const domain = this.#domains.byName(name)
    if (!domain) throw new AppError('not_found', `domain '${name}' does not exist`)
    return domain
  }
}
