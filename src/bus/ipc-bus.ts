import { type Static, Type } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import type { JsonValue } from '../store/store.ts'
import type { Bus, BusHandler, BusSubscription, MalformedHandler, SubscribeOptions } from './bus.ts'
import type { Topic } from './topic.ts'

const Json = Type.Unsafe<JsonValue>(Type.Any())

/** Worker → relay. */
export const BusToRelay = Type.Union([
  Type.Object({ t: Type.Literal('bus.sub'), id: Type.Integer(), subject: Type.String(), group: Type.Optional(Type.String()) }),
  Type.Object({ t: Type.Literal('bus.unsub'), id: Type.Integer() }),
  Type.Object({ t: Type.Literal('bus.pub'), subject: Type.String(), message: Json }),
  Type.Object({ t: Type.Literal('bus.flush'), id: Type.Integer() }),
])
export type BusToRelay = Static<typeof BusToRelay>

/** Relay → worker: a message for some of its subscriptions, or the answer to a flush. */
export const RelayToBus = Type.Union([
  Type.Object({ t: Type.Literal('bus.msg'), subs: Type.Array(Type.Integer()), subject: Type.String(), message: Json }),
  Type.Object({ t: Type.Literal('bus.flushed'), id: Type.Integer() }),
])
export type RelayToBus = Static<typeof RelayToBus>

/** Checks what arrives over the IPC channel: a worker of another version fails loudly. */
export const relayToBus = TypeCompiler.Compile(RelayToBus)
export const busToRelay = TypeCompiler.Compile(BusToRelay)

export interface IpcBusOptions {
  /** Sends a message to the relay (the supervisor), in order. */
  readonly send: (message: BusToRelay) => void
  /** A handler threw. */
  readonly onError: (error: unknown, subject: string) => void
  /** A message did not fit its subscription's topic (dropped for it). Default: ignored. */
  readonly onMalformed?: MalformedHandler
}

interface Entry {
  readonly topic: Topic<unknown>
  readonly handler: BusHandler<unknown>
  active: boolean
}

/**
 * The bus between the workers of one node in embedded mode (SPEC §13): every publish and
 * subscription goes to the supervisor's relay (ipc-bus-relay.ts) over the worker's IPC channel,
 * which routes each message to the workers whose subscriptions match, one member per queue
 * group across all workers. Messages travel as JSON, so every receiver gets its own copy; the
 * relay keeps the order of one publisher's messages. Own messages make the same trip, so a
 * worker sees the bus as every other worker does.
 */
export class IpcBus implements Bus {
  readonly #options: IpcBusOptions
  readonly #entries = new Map<number, Entry>()
  readonly #flushes = new Map<number, () => void>()
  #nextId = 1
  #closed = false

  constructor(options: IpcBusOptions) {
    this.#options = options
  }

  publish<T>(_topic: Topic<T>, subject: string, message: T): void {
    if (this.#closed) throw new Error('bus is closed')
    this.#options.send({ t: 'bus.pub', subject, message: message as JsonValue })
  }

  subscribe<T>(topic: Topic<T>, subject: string, handler: BusHandler<T>, options: SubscribeOptions = {}): BusSubscription {
    const id = this.#nextId++
    const entry: Entry = { topic, handler: handler as BusHandler<unknown>, active: true }
    this.#entries.set(id, entry)
    if (!this.#closed) {
      this.#options.send({ t: 'bus.sub', id, subject, ...(options.group !== undefined && { group: options.group }) })
    }
    return {
      unsubscribe: () => {
        if (!entry.active) return
        entry.active = false
        this.#entries.delete(id)
        if (!this.#closed) this.#options.send({ t: 'bus.unsub', id })
      },
    }
  }

  /** Resolves once the relay has routed everything published (and subscribed) so far. */
  flush(): Promise<void> {
    if (this.#closed) return Promise.resolve()
    const id = this.#nextId++
    return new Promise((resolve) => {
      this.#flushes.set(id, resolve)
      this.#options.send({ t: 'bus.flush', id })
    })
  }

  /** A message from the relay. */
  receive(message: RelayToBus): void {
    if (message.t === 'bus.flushed') {
      this.#flushes.get(message.id)?.()
      this.#flushes.delete(message.id)
      return
    }
    let first = true
    for (const id of message.subs) {
      const entry = this.#entries.get(id)
      if (!entry?.active) continue
      // The IPC channel made one copy; each further receiver gets its own.
      const copy = first ? message.message : (structuredClone(message.message) as JsonValue)
      first = false
      if (!entry.topic.check(copy)) {
        this.#options.onMalformed?.(entry.topic.name, message.subject)
        continue
      }
      try {
        entry.handler(copy, message.subject)
      } catch (error) {
        this.#options.onError(error, message.subject)
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const [id, entry] of this.#entries) {
      entry.active = false
      this.#options.send({ t: 'bus.unsub', id })
    }
    this.#entries.clear()
    for (const resolve of this.#flushes.values()) resolve()
    this.#flushes.clear()
  }
}
