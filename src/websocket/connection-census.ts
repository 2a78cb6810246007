import { Type } from '@sinclair/typebox'
import type { Bus, BusSubscription } from '../bus/bus.ts'
import type { Peers } from '../bus/peers.ts'
import { type MessageOf, topic } from '../bus/topic.ts'
import { newId } from '../ids.ts'
import type { ConnectionRegistry } from './connection-registry.ts'

const ConnectionViewSchema = Type.Object({
  id: Type.String(),
  channel_id: Type.String(),
  channel_code: Type.String(),
  ip: Type.String(),
  opened_at: Type.String(),
  /** The node that holds it. */
  node: Type.String(),
})

const QUESTION = topic(
  'connections.ask',
  Type.Object({
    qid: Type.String(),
    from: Type.String(),
    domainId: Type.String(),
    channelId: Type.Union([Type.String(), Type.Null()]),
  }),
)
const ANSWER = topic(
  'connections.answer',
  Type.Object({ qid: Type.String(), node: Type.String(), found: Type.Array(ConnectionViewSchema) }),
)

/** One live connection as the admin API lists it. */
export type ConnectionView = MessageOf<typeof ANSWER>['found'][number]

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
      deps.bus.subscribe(QUESTION, ASK, (question) => {
        if (question.from === this.#node) return
        const answer = { qid: question.qid, node: this.#node, found: this.#local(question.domainId, question.channelId) }
        this.#bus.publish(ANSWER, `${ANSWERS}.${question.from}`, answer)
      }),
      deps.bus.subscribe(ANSWER, `${ANSWERS}.${deps.node}`, (answer) => {
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
          this.#bus.publish(QUESTION, ASK, { qid, from: this.#node, domainId, channelId })
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
