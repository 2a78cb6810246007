/**
 * Bounds the sync webhooks in flight per channel, so one flooded channel cannot take every
 * script slot and starve the others (excess: 1429 with `Retry-After`).
 */
export class ChannelGate {
  readonly #limit: number
  readonly #inFlight = new Map<string, number>()

  constructor(limit: number) {
    this.#limit = limit
  }

  /** Takes a slot for the channel; false when it has `limit` requests in flight. */
  enter(channelId: string): boolean {
    const now = this.#inFlight.get(channelId) ?? 0
    if (now >= this.#limit) return false
    this.#inFlight.set(channelId, now + 1)
    return true
  }

  leave(channelId: string): void {
    const now = this.#inFlight.get(channelId) ?? 0
    if (now <= 1) this.#inFlight.delete(channelId)
    else this.#inFlight.set(channelId, now - 1)
  }
}
