import type { ChangeFeed, Mirror } from '../collections/change-feed.ts'
import type { Store } from '../store/store.ts'
import type { Channel, ChannelType } from './channel-schemas.ts'

/**
 * The solution-defined channel types (SPEC §3.1) in memory, for what a channel's runs need of
 * its type and its entity does not carry: `relative_urls_only`. A change applies to the next run
 * on every node, as channel changes do.
 */
export class ChannelTypeDirectory {
  /** Type name by channel type id, for the types with `relative_urls_only`. */
  readonly #relativeOnly = new Map<string, string>()
  /** The same type names, for the lookup of each run (rebuilt on a change: types are few). */
  #relativeOnlyTypes: ReadonlySet<string> = new Set()
  readonly #store: Store
  readonly #mirror: Mirror

  constructor(store: Store, changes: ChangeFeed, onError: (error: unknown) => void) {
    this.#store = store
    this.#mirror = changes.mirror(
      'channel_types',
      {
        put: (_scope, doc) => {
          const channelType = doc as unknown as ChannelType
          if (channelType.relative_urls_only === true) this.#relativeOnly.set(doc.id, channelType.type)
          else this.#relativeOnly.delete(doc.id)
          this.#relativeOnlyTypes = new Set(this.#relativeOnly.values())
        },
        remove: (id) => {
          this.#relativeOnly.delete(id)
          this.#relativeOnlyTypes = new Set(this.#relativeOnly.values())
        },
      },
      (_scope, id) => store.table('channel_types').get(null, id),
      onError,
    )
  }

  /** Fills the directory from the store (changes that arrive meanwhile win). */
  async load(): Promise<void> {
    await this.#mirror.seed(() => this.#store.table('channel_types').scan())
  }

  /** Whether the channel's scripts may call `http.request` only with paths relative to its `url`. */
  relativeUrlsOnly(channel: Pick<Channel, 'type'>): boolean {
    return this.#relativeOnlyTypes.has(channel.type)
  }
}
