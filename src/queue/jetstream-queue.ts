import {
  AckPolicy,
  type ConsumerMessages,
  type JetStreamClient,
  type JsMsg,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream'
import { type NatsConnection, nanos } from '@nats-io/nats-core'
import type { QueueMetrics, QueueStats } from '../metrics/queue-metrics.ts'
import type { Job, JobOutcome, JobQueue } from './job-queue.ts'

export interface JetStreamQueueOptions {
  /** Names the stream and its subjects (`<prefix>_jobs`, `<prefix>.jobs.<domain>`); as the bus's prefix. */
  readonly prefix: string
  /** Jobs run at once on this node. */
  readonly concurrency: number
  /** How long `close` waits for running jobs before it hands them back, ms. */
  readonly closeWaitMs: number
  /**
   * A job not acknowledged for this long goes to another node (its node died), ms. A running
   * job tells the server it is alive three times per period, so only dead nodes lose theirs.
   */
  readonly ackWaitMs: number
  readonly metrics: QueueMetrics
  readonly onError: (error: unknown) => void
}

type Work<T> = (job: Job<T>, stop: AbortSignal) => Promise<JobOutcome>

/** A job as it travels in the stream. */
interface JobMessage {
  readonly id: string
  readonly scope: string
  readonly payload: unknown
  readonly attempt: number
  /** A retry: not to run before this time (ms since the epoch). */
  readonly notBefore?: number
}

/** A worker that throws (a bug) gets its job back after this long, ms. */
const BUG_RETRY_MS = 5000
/** How long `close` waits for stopped workers to hand their jobs back, ms. */
const HAND_BACK_WAIT_MS = 2000

/**
 * The cluster queue: a JetStream work-queue stream shared by every node, and one durable pull
 * consumer that all of them take from — each job goes to one node at a time. `enqueue` resolves
 * when the server has stored the job (and a duplicate id within two minutes is stored once). A
 * job is acknowledged only when its worker is done (an async webhook: after its execution is
 * recorded); a node that dies mid-run leaves it unacknowledged, and the server hands it to another
 * node after `ackWaitMs`. A retry is a new message of the next attempt that waits out its backoff
 * (`notBefore`), then the old one is acknowledged: at least once, never lost in between.
 */
export class JetStreamJobQueue<T> implements JobQueue<T> {
  readonly #js: JetStreamClient
  readonly #connection: NatsConnection
  readonly #options: JetStreamQueueOptions
  readonly #stream: string
  /** Jobs running here, with the timer that tells the server they are alive and their stop. */
  readonly #running = new Map<JsMsg, { run: Promise<void>; alive: NodeJS.Timeout; stop: AbortController }>()
  /** Retries this node is holding back until their time (nak'd with a delay). */
  #retrying = 0
  #messages: ConsumerMessages | undefined
  #freeSlot: (() => void) | undefined
  #closed = false

  private constructor(connection: NatsConnection, options: JetStreamQueueOptions) {
    this.#connection = connection
    this.#js = jetstream(connection)
    this.#options = options
    this.#stream = `${options.prefix}_jobs`
    options.metrics.watch(() => this.stats)
  }

  /** This node's view: jobs it runs and retries it holds back; the stream's own backlog is NATS's to report. */
  get stats(): QueueStats {
    return { ready: 0, running: this.#running.size, retrying: this.#retrying }
  }

  /** Makes sure the stream and the consumer exist (every node does; the first one creates them). */
  static async open<T>(connection: NatsConnection, options: JetStreamQueueOptions): Promise<JetStreamJobQueue<T>> {
    const queue = new JetStreamJobQueue<T>(connection, options)
    const manager = await jetstreamManager(connection)
    const stream = {
      name: queue.#stream,
      subjects: [`${options.prefix}.jobs.>`],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      duplicate_window: nanos(120_000),
    }
    await manager.streams.info(queue.#stream).then(
      () => manager.streams.update(queue.#stream, stream),
      () => manager.streams.add(stream),
    )
    const consumer = {
      durable_name: 'workers',
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(options.ackWaitMs),
      max_deliver: -1,
      max_ack_pending: 100_000,
    }
    await manager.consumers.info(queue.#stream, 'workers').then(
      () => manager.consumers.update(queue.#stream, 'workers', consumer),
      () => manager.consumers.add(queue.#stream, consumer),
    )
    return queue
  }

  async enqueue(scope: string, id: string, payload: T): Promise<void> {
    if (this.#closed) throw new Error('the queue is closed')
    await this.#publish({ id, scope, payload, attempt: 1 }, id)
    this.#options.metrics.accepted.value++
  }

  async start(work: Work<T>): Promise<void> {
    const consumer = await this.#js.consumers.get(this.#stream, 'workers')
    this.#messages = await consumer.consume({ max_messages: this.#options.concurrency })
    void this.#take(this.#messages, work).catch(this.#options.onError)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#messages?.close().catch(() => {})
    this.#freeSlot?.()
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      Promise.allSettled([...this.#running.values()].map((entry) => entry.run)),
      new Promise((resolve) => {
        timer = setTimeout(resolve, this.#options.closeWaitMs)
      }),
    ])
    clearTimeout(timer)
    // Still running: their workers are told to stop and hand them back (at once, not after the ack wait).
    const stopping = [...this.#running.values()]
    for (const { stop } of stopping) stop.abort()
    await Promise.race([
      Promise.allSettled(stopping.map((entry) => entry.run)),
      new Promise((resolve) => {
        timer = setTimeout(resolve, HAND_BACK_WAIT_MS)
      }),
    ])
    clearTimeout(timer)
    for (const [message, { alive }] of this.#running) {
      clearInterval(alive)
      this.#nak(message)
    }
    await this.#connection.flush().catch(() => {})
  }

  async #publish(job: JobMessage, msgID: string): Promise<void> {
    await this.#js.publish(`${this.#options.prefix}.jobs.${job.scope}`, JSON.stringify(job), { msgID })
  }

  async #take(messages: ConsumerMessages, work: Work<T>): Promise<void> {
    for await (const message of messages) {
      if (this.#closed) {
        message.nak()
        continue
      }
      const job = message.json<JobMessage>()
      const wait = (job.notBefore ?? 0) - Date.now()
      if (wait > 0) {
        // A retry waiting out its backoff: back to the server until then, without a slot.
        this.#retrying++
        setTimeout(() => this.#retrying--, wait).unref()
        message.nak(wait)
        continue
      }
      while (this.#running.size >= this.#options.concurrency && !this.#closed) {
        await new Promise<void>((resolve) => {
          this.#freeSlot = resolve
        })
      }
      const alive = setInterval(() => message.working(), Math.max(100, Math.floor(this.#options.ackWaitMs / 3)))
      const stop = new AbortController()
      const run = this.#run(message, job, work, stop.signal).finally(() => {
        clearInterval(alive)
        this.#running.delete(message)
        const free = this.#freeSlot
        this.#freeSlot = undefined
        free?.()
      })
      this.#running.set(message, { run, alive, stop })
    }
  }

  async #run(message: JsMsg, job: JobMessage, work: Work<T>, stop: AbortSignal): Promise<void> {
    const { metrics } = this.#options
    try {
      let outcome: JobOutcome
      try {
        outcome = await work({ id: job.id, scope: job.scope, payload: job.payload as T, attempt: job.attempt }, stop)
      } catch (error) {
        this.#options.onError(error)
        message.nak(BUG_RETRY_MS)
        return
      }
      if ('handedBack' in outcome) {
        // Stopped by close: another node (or the next start) takes it now, as it was.
        metrics.handedBack.value++
        this.#nak(message)
        return
      }
      if ('retryInMs' in outcome) {
        metrics.retries.value++
        const next: JobMessage = {
          id: job.id,
          scope: job.scope,
          payload: outcome.payload,
          attempt: job.attempt + 1,
          notBefore: Date.now() + outcome.retryInMs,
        }
        await this.#publish(next, `${job.id}:${next.attempt}`)
      } else {
        metrics.completed.value++
      }
      await message.ackAck()
    } catch (error) {
      // The ack (or the retry's publish) did not reach the server: the job comes back, at least once.
      this.#options.onError(error)
    }
  }

  #nak(message: JsMsg): void {
    try {
      message.nak()
    } catch {
      // The connection is gone already: the server hands the job out after the ack wait.
    }
  }
}
