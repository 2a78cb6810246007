import type { NatsConnection } from '@nats-io/nats-core'
import { connect } from '@nats-io/transport-node'
import type { Bus, BusHandler, BusSubscription, MalformedHandler, SubscribeOptions } from './bus.ts'
import type { Topic } from './topic.ts'

export interface NatsBusOptions {
  /** `nats://host:port`, or several separated by commas. */
  readonly url: string
  /**
   * Put before every subject on the wire (`<prefix>.<subject>`), so installations (and test
   * runs) that share a NATS server never hear each other. Default `sb`.
   */
  readonly prefix?: string
  /** The connection's name, as the NATS server shows it. */
  readonly name?: string
  /**
   * A handler threw; the message is dropped (the bus promises at most once). Default: ignored,
   * for tests of the bus itself; the server passes one that logs and counts.
   */
  readonly onError?: (error: unknown, subject: string) => void
  /** Told when the connection drops and comes back. */
  readonly onStatus?: (status: { type: string; server?: string }) => void
  /** A message that is not JSON, or does not fit its subscription's topic: dropped. Default: ignored. */
  readonly onMalformed?: MalformedHandler
}

/** How long `flush` waits for the server before it says the bus is unreachable, ms. */
const FLUSH_TIMEOUT_MS = 2000

/**
 * The bus of cluster mode on NATS core. Subjects and queue groups are NATS's own, so `Bus`'s
 * promises hold as NATS keeps them: at most once per subscription (a message published while a
 * node is disconnected is buffered by the client and sent on reconnect; one in flight when a
 * connection drops may be lost), order per subject and publisher, one member per queue group
 * over every subject of the group. Messages are JSON.
 */
export class NatsBus implements Bus {
  readonly #connection: NatsConnection
  readonly #prefix: string
  readonly #onError: (error: unknown, subject: string) => void
  readonly #onMalformed: MalformedHandler
  #closed = false

  private constructor(connection: NatsConnection, options: NatsBusOptions) {
    this.#connection = connection
    this.#prefix = options.prefix ?? 'sb'
    this.#onError = options.onError ?? (() => {})
    this.#onMalformed = options.onMalformed ?? (() => {})
  }

  /** Connects, and keeps reconnecting for as long as the bus is open. */
  static async connect(options: NatsBusOptions): Promise<NatsBus> {
    const connection = await connect({
      servers: options.url.split(',').map((server) => server.trim()),
      name: options.name ?? 'switchboard',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      waitOnFirstConnect: false,
    })
    const bus = new NatsBus(connection, options)
    if (options.onStatus) {
      const onStatus = options.onStatus
      void (async () => {
        for await (const status of connection.status()) {
          onStatus({
            type: status.type,
            ...('server' in status && typeof status.server === 'string' && { server: status.server }),
          })
        }
      })()
    }
    return bus
  }

  publish<T>(_topic: Topic<T>, subject: string, message: T): void {
    if (this.#closed) throw new Error('bus is closed')
    this.#connection.publish(`${this.#prefix}.${subject}`, JSON.stringify(message))
  }

  subscribe<T>(topic: Topic<T>, subject: string, handler: BusHandler<T>, options: SubscribeOptions = {}): BusSubscription {
    const cut = this.#prefix.length + 1
    const subscription = this.#connection.subscribe(`${this.#prefix}.${subject}`, {
      ...(options.group !== undefined && { queue: options.group }),
      callback: (error, message) => {
        // On an error (a permission violation, say) the client hands over no real message.
        if (error) {
          this.#onError(error, subject)
          return
        }
        const local = message.subject.slice(cut)
        // Checked at the decode: another version's message is counted and dropped here.
        let decoded: unknown
        try {
          decoded = message.json<unknown>()
        } catch {
          this.#onMalformed(topic.name, local)
          return
        }
        if (!topic.check(decoded)) {
          this.#onMalformed(topic.name, local)
          return
        }
        try {
          handler(decoded, local)
        } catch (thrown) {
          this.#onError(thrown, local)
        }
      },
    })
    return { unsubscribe: () => subscription.unsubscribe() }
  }

  async flush(): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([
        this.#connection.flush(),
        new Promise((_resolve, reject) => {
          timer = setTimeout(
            () => reject(new Error(`the NATS server did not answer within ${FLUSH_TIMEOUT_MS} ms`)),
            FLUSH_TIMEOUT_MS,
          )
        }),
      ])
    } finally {
      clearTimeout(timer)
    }
  }

  /** The connection, for the engines that share it (the JetStream queue and object store). */
  get connection(): NatsConnection {
    return this.#connection
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    // Drain: what was published leaves, handlers of messages already received still run. A drain
    // that fails has lost the connection already (nothing left to send): close it all the same.
    await this.#connection.drain().catch(() => this.#connection.close())
  }
}
