import { Type } from '@sinclair/typebox'
import type { Bus, BusSubscription } from './bus.ts'
import { topic } from './topic.ts'

export interface PeersOptions {
  /** A heartbeat this often, ms. */
  readonly everyMs?: number
  /** A node not heard for this long is gone, ms (default: three and a half heartbeats). */
  readonly goneAfterMs?: number
}

const HEARTBEAT = 'nodes.alive'
const HELLO = 'nodes.hello'

/** A node's heartbeat (`bye`: it leaves), and its hello when it starts. */
const NODE_ALIVE = topic('nodes.alive', Type.Object({ node: Type.String(), bye: Type.Optional(Type.Boolean()) }))
const NODE_HELLO = topic('nodes.hello', Type.Object({ node: Type.String() }))

/**
 * The other nodes of the cluster, as heard on the bus: each node says it is alive every second,
 * and a new node says hello so the others answer at once. A node not heard for a few beats is
 * gone (killed, partitioned). On the in-process bus there are no peers.
 *
 * A node listens from the start (its own writes wait for the others) but announces itself only
 * with `announce()`, once it can confirm changes: before that the others would wait for it.
 */
export class Peers {
  readonly #bus: Bus
  readonly #node: string
  readonly #everyMs: number
  readonly #goneAfterMs: number
  readonly #seen = new Map<string, number>()
  readonly #subscriptions: BusSubscription[]
  readonly #gone: ((node: string) => void)[] = []
  #timer: NodeJS.Timeout | undefined

  constructor(bus: Bus, node: string, options: PeersOptions = {}) {
    this.#everyMs = options.everyMs ?? 1000
    this.#bus = bus
    this.#node = node
    this.#goneAfterMs = options.goneAfterMs ?? this.#everyMs * 3.5
    this.#subscriptions = [
      bus.subscribe(NODE_ALIVE, HEARTBEAT, (message) => this.#heard(message)),
      bus.subscribe(NODE_HELLO, HELLO, (message) => {
        if (this.#heard(message) && this.#timer !== undefined) this.#beat()
      }),
    ]
  }

  /** Tells the others this node is here, and keeps telling them. Idempotent. */
  announce(): void {
    if (this.#timer !== undefined) return
    this.#bus.publish(NODE_HELLO, HELLO, { node: this.#node })
    this.#timer = setInterval(() => this.#beat(), this.#everyMs)
    this.#timer.unref()
  }

  /** Calls `listener` with each node that says goodbye. */
  onGone(listener: (node: string) => void): void {
    this.#gone.push(listener)
  }

  /** The nodes heard lately, this one excluded. */
  live(): string[] {
    const now = performance.now()
    const live: string[] = []
    for (const [node, at] of this.#seen) {
      if (now - at <= this.#goneAfterMs) live.push(node)
      else this.#seen.delete(node)
    }
    return live
  }

  /** Says goodbye, so the others stop waiting for this node at once. */
  async close(): Promise<void> {
    const announced = this.#timer !== undefined
    clearInterval(this.#timer)
    for (const subscription of this.#subscriptions) subscription.unsubscribe()
    if (!announced) return
    try {
      this.#bus.publish(NODE_ALIVE, HEARTBEAT, { node: this.#node, bye: true })
    } catch {
      // The bus closed first: the others notice the silence instead.
    }
  }

  /** True when `message` is from another node. */
  #heard(message: { node: string; bye?: boolean }): boolean {
    if (message.node === this.#node) return false
    if (message.bye) {
      this.#seen.delete(message.node)
      for (const listener of this.#gone) listener(message.node)
    } else this.#seen.set(message.node, performance.now())
    return true
  }

  #beat(): void {
    this.#bus.publish(NODE_ALIVE, HEARTBEAT, { node: this.#node })
  }
}
