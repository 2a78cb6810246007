import { randomBytes } from 'node:crypto'
import { secretHash } from '../ids.ts'
import type { Store } from '../store/store.ts'

export interface TempLinksOptions {
  /** How long a link serves its file, ms (SPEC §9: 5 minutes). */
  readonly lifetimeMs: number
  /** How often expired links are deleted, ms. */
  /** undefined: another worker of the node does it (the housekeeper). */
  readonly purgeEveryMs: number | undefined
  readonly onError: (error: unknown) => void
}

/** What a temporary link opens. */
export interface LinkTarget {
  readonly domainId: string
  readonly path: string
}

/** The secret part of a link: 32 random bytes, base64url (256 bits). */
const SECRET = /^[A-Za-z0-9_-]{43}$/

const TEMP_LINK_PREFIX = '/temp/'

/**
 * Temporary links (SPEC §9): `/temp/<secret>` serves one file of a domain without auth until it
 * expires. Links live in the store (so every node that shares it serves them, and a restart
 * keeps them), by the SHA-256 of the secret: the store never holds a working link.
 */
export class TempLinks {
  readonly #store: Store
  readonly #options: TempLinksOptions
  readonly #purge: NodeJS.Timeout | undefined

  constructor(store: Store, options: TempLinksOptions) {
    this.#store = store
    this.#options = options
    const every = options.purgeEveryMs
    this.#purge =
      every === undefined
        ? undefined
        : setInterval(() => {
            this.purge().catch(options.onError)
          }, every).unref()
  }

  /** A new link to `path`; answers its path, `/temp/<secret>`. */
  async create(domainId: string, path: string): Promise<string> {
    const secret = randomBytes(32).toString('base64url')
    const expires = new Date(Date.now() + this.#options.lifetimeMs).toISOString()
    await this.#store.table('temp_links').insert(domainId, { id: secretHash(secret), path, expires_at: expires })
    return `${TEMP_LINK_PREFIX}${secret}`
  }

  /** The file a link's secret opens, or undefined when it is unknown or expired. */
  async resolve(secret: string): Promise<LinkTarget | undefined> {
    if (!SECRET.test(secret)) return undefined
    const found = await this.#store.table('temp_links').findBy('id', secretHash(secret))
    if (!found || typeof found.scope !== 'string') return undefined
    if (Date.parse(found.doc.expires_at as string) <= Date.now()) return undefined
    return { domainId: found.scope, path: found.doc.path as string }
  }

  async purge(): Promise<void> {
    await this.#store.table('temp_links').removeBefore('expires_at', new Date().toISOString())
  }

  async close(): Promise<void> {
    clearInterval(this.#purge)
  }
}
