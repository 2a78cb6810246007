import type { Bus, BusSubscription } from '../bus/bus.ts'
import type { Peers } from '../bus/peers.ts'
import { newId } from '../ids.ts'
import type { JsonValue } from '../store/store.ts'
import type { ConnectionRegistry } from './connection-registry.ts'

/** One live connection as the admin API lists it. */
export interface ConnectionView {
  readonly id: string
  readonly channel_id: string
  readonly channel_code: string
  readonly ip: string
  readonly opened_at: string
  /** The node that holds it. */
  readonly node: string
}

interface Question {
  readonly qid: string
  readonly from: string
  readonly domainId: string
  readonly channelId: string | null
}

const ASK = 'connections.ask'
const ANSWERS = 'connections.answer'

/** The longest a listing waits for the other nodes, ms. */
const WAIT_MS = 1000

/**
 * The live websocket connections of a domain on every node: this node's from its registry, the
 * others' asked over the bus and gathered until every live peer has answered (or a bound).
 */
export class ConnectionCensus {
  readonly #bus: Bus
  readonly #peers: Peers
  readonly #registry: ConnectionRegistry
  readonly #node: string
  readonly #waiting = new Map<string, { pending: Set<string>; found: ConnectionView[]; done: () => void }>()
  readonly #subscriptions: BusSubscription[]

  constructor(deps: { bus: Bus; peers: Peers; registry: ConnectionRegistry; node: string }) {
    this.#bus = deps.bus
    this.#peers = deps.peers
    this.#registry = deps.registry
    this.#node = deps.node
    this.#subscriptions = [
      deps.bus.subscribe(ASK, (message) => {
        const question = message as unknown as Question
        if (question.from === this.#node) return
        const answer = { qid: question.qid, node: this.#node, found: this.#local(question.domainId, question.channelId) }
        this.#bus.publish(`${ANSWERS}.${question.from}`, answer as unknown as JsonValue)
      }),
      deps.bus.subscribe(`${ANSWERS}.${deps.node}`, (message) => {
        const answer = message as unknown as { qid: string; node: string; found: ConnectionView[] }
        const waiting = this.#waiting.get(answer.qid)
        if (!waiting) return
        waiting.found.push(...answer.found)
        waiting.pending.delete(answer.node)
        if (waiting.pending.size === 0) waiting.done()
      }),
    ]
  }

  /** Stops answering the other nodes. Idempotent. */
  async close(): Promise<void> {
    for (const subscription of this.#subscriptions.splice(0)) subscription.unsubscribe()
  }

  /** Every node's connections of the domain (of one channel, if given), oldest first. */
  async list(domainId: string, channelId: string | null): Promise<ConnectionView[]> {
    const found = this.#local(domainId, channelId)
    const peers = this.#peers.live()
    if (peers.length > 0) {
      const qid = newId()
      try {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(finish, WAIT_MS)
          function finish() {
            clearTimeout(timer)
            resolve()
          }
          this.#waiting.set(qid, { pending: new Set(peers), found, done: finish })
          this.#bus.publish(ASK, { qid, from: this.#node, domainId, channelId } satisfies Question as unknown as JsonValue)
        })
      } finally {
        this.#waiting.delete(qid)
      }
    }
    return found.sort((a, b) => a.opened_at.localeCompare(b.opened_at) || a.id.localeCompare(b.id))
  }

  #local(domainId: string, channelId: string | null): ConnectionView[] {
    const connections = channelId === null ? [...this.#registry.all()] : this.#registry.ofChannel(channelId)
    return connections
      .filter((connection) => connection.domainId === domainId)
      .map((connection) => ({
        id: connection.id,
        channel_id: connection.channelId,
        channel_code: connection.channel.code,
        ip: connection.ip,
        opened_at: connection.openedAt.toISOString(),
        node: this.#node,
      }))
  }
}
