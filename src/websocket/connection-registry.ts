import type { WsConnection } from './ws-connection.ts'

/** Every live websocket connection of this node, by id and by channel. */
export class ConnectionRegistry {
  readonly #byId = new Map<string, WsConnection>()
  readonly #byChannel = new Map<string, Set<WsConnection>>()

  add(connection: WsConnection): void {
    this.#byId.set(connection.id, connection)
    let set = this.#byChannel.get(connection.channelId)
    if (!set) {
      set = new Set()
      this.#byChannel.set(connection.channelId, set)
    }
    set.add(connection)
  }

  remove(connection: WsConnection): void {
    this.#byId.delete(connection.id)
    const set = this.#byChannel.get(connection.channelId)
    set?.delete(connection)
    if (set?.size === 0) this.#byChannel.delete(connection.channelId)
  }

  byId(id: string): WsConnection | undefined {
    return this.#byId.get(id)
  }

  ofChannel(channelId: string): readonly WsConnection[] {
    return [...(this.#byChannel.get(channelId) ?? [])]
  }

  countOfChannel(channelId: string): number {
    return this.#byChannel.get(channelId)?.size ?? 0
  }

  all(): IterableIterator<WsConnection> {
    return this.#byId.values()
  }

  get size(): number {
    return this.#byId.size
  }
}
