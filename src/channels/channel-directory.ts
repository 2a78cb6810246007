import type { ChangeFeed, Mirror } from '../collections/change-feed.ts'
import { normaliseCode } from '../collections/codes.ts'
import { sameSecret, secretHash } from '../ids.ts'
import type { Store } from '../store/store.ts'
import type { Channel } from './channel-schemas.ts'

export interface ChannelEntry {
  readonly domainId: string
  readonly channel: Channel
}

/**
 * Every channel in memory, by token, id and code: the hot path (webhooks, websocket upgrades,
 * files) never reads the store. Local writes apply before the write is answered; writes on
 * other nodes apply when their change notice arrives.
 */
export class ChannelDirectory {
  readonly #byId = new Map<string, ChannelEntry>()
  /** Keyed by the token's SHA-256: no map is keyed by a secret, and the final compare is constant-time. */
  readonly #byTokenHash = new Map<string, ChannelEntry>()
  readonly #byCode = new Map<string, ChannelEntry>()
  readonly #store: Store
  readonly #mirror: Mirror
  readonly #listeners: ((id: string) => void)[] = []

  constructor(store: Store, changes: ChangeFeed, onError: (error: unknown) => void) {
    this.#store = store
    this.#mirror = changes.mirror(
      'integration_points',
      {
        put: (scope, doc) => {
          this.#put(scope as string, doc as unknown as Channel)
          this.#announce(doc.id)
        },
        remove: (id) => {
          this.#remove(id)
          this.#announce(id)
        },
      },
      (scope, id) => store.table('integration_points').get(scope, id),
      onError,
    )
  }

  /** Fills the directory from the store (changes that arrive meanwhile win). */
  async load(): Promise<void> {
    await this.#mirror.seed(() => this.#store.table('integration_points').scan())
  }

  /** Calls `listener` after every change of a channel with its id (its entry is then current). */
  onChange(listener: (id: string) => void): void {
    this.#listeners.push(listener)
  }

  #announce(id: string): void {
    for (const listener of this.#listeners) listener(id)
  }

  byToken(token: string): ChannelEntry | undefined {
    const entry = this.#byTokenHash.get(secretHash(token))
    return entry && sameSecret(entry.channel.token_local, token) ? entry : undefined
  }

  byId(id: string): ChannelEntry | undefined {
    return this.#byId.get(id)
  }

  /** The channel with `code` (in any Unicode spelling: codes are kept in NFC). */
  byCode(domainId: string, code: string): ChannelEntry | undefined {
    return this.#byCode.get(`${domainId}\u0000${normaliseCode(code)}`)
  }

  #put(domainId: string, channel: Channel): void {
    this.#remove(channel.id)
    const entry: ChannelEntry = { domainId, channel }
    this.#byId.set(channel.id, entry)
    this.#byTokenHash.set(secretHash(channel.token_local), entry)
    this.#byCode.set(`${domainId}\u0000${channel.code}`, entry)
  }

  #remove(id: string): void {
    const old = this.#byId.get(id)
    if (!old) return
    this.#byId.delete(id)
    const tokenHash = secretHash(old.channel.token_local)
    if (this.#byTokenHash.get(tokenHash) === old) this.#byTokenHash.delete(tokenHash)
    const codeKey = `${old.domainId}\u0000${old.channel.code}`
    if (this.#byCode.get(codeKey) === old) this.#byCode.delete(codeKey)
  }
}
