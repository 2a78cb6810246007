import {
  AckPolicy,
  type Consumer,
  type JetStreamClient,
  type JsMsg,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream'
import { type NatsConnection, nanos } from '@nats-io/nats-core'
import { AppError } from '../errors.ts'
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
/** A worker's pull waits this long for a job before it asks again, ms. */
const PULL_EXPIRES_MS = 2000
/** Room for the stream message's own headers and subject within the server's max_payload, bytes. */
const JOB_ENVELOPE_BYTES = 4096

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
  readonly #loops: Promise<void>[] = []
  /** Retries this node is holding back until their time (nak'd with a delay). */
  #retrying = 0
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
    // After close too: a webhook accepted while the node drains is stored for the other nodes.
    const job = JSON.stringify({ id, scope, payload, attempt: 1 } satisfies JobMessage)
    // The server refuses a message over its max_payload: say so as the request's size, not a 500.
    const limit = this.#connection.info?.max_payload ?? Number.POSITIVE_INFINITY
    if (Buffer.byteLength(job) > limit - JOB_ENVELOPE_BYTES) {
      throw new AppError('payload_too_large', `an async webhook is stored in NATS, whose messages hold at most ${limit} bytes`)
    }
    await this.#js.publish(`${this.#options.prefix}.jobs.${scope}`, job, { msgID: id })
    this.#options.metrics.accepted.value++
  }

  /**
   * One loop per worker, each pulling one message when it is free: a node holds only the jobs it
   * runs (every one of them kept alive with the server), so none waits unseen past the ack wait
   * and the nodes share the backlog by how fast they work.
   */
  async start(work: Work<T>): Promise<void> {
    const consumer = await this.#js.consumers.get(this.#stream, 'workers')
    for (let i = 0; i < this.#options.concurrency; i++) {
      this.#loops.push(this.#worker(consumer, work).catch(this.#options.onError))
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
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
    // Unflushed naks reach the server later or never: the jobs come back after the ack wait instead.
    await this.#connection.flush().catch(this.#options.onError)
  }

  async #publish(job: JobMessage, msgID: string): Promise<void> {
    await this.#js.publish(`${this.#options.prefix}.jobs.${job.scope}`, JSON.stringify(job), { msgID })
  }

  /** Pulls a job, runs it, pulls the next; ends when the queue closes. */
  async #worker(consumer: Consumer, work: Work<T>): Promise<void> {
    while (!this.#closed) {
      let message: JsMsg | null
      try {
        message = await consumer.next({ expires: PULL_EXPIRES_MS })
      } catch (error) {
        // The connection is down (a NATS restart): wait, and pull again once it is back.
        if (this.#closed) return
        this.#options.onError(error)
        await new Promise((resolve) => setTimeout(resolve, PULL_EXPIRES_MS))
        continue
      }
      if (message === null) continue
      if (this.#closed) {
        message.nak()
        return
      }
      let job: JobMessage
      try {
        job = message.json<JobMessage>()
      } catch (error) {
        // Not a job of ours (written by hand into the stream?): never run, never redelivered.
        this.#options.onError(error)
        message.term()
        continue
      }
      const wait = (job.notBefore ?? 0) - Date.now()
      if (wait > 0) {
        // A retry waiting out its backoff: back to the server until then, without a worker.
        this.#retrying++
        setTimeout(() => this.#retrying--, wait).unref()
        message.nak(wait)
        continue
      }
      const alive = setInterval(() => message.working(), Math.max(100, Math.floor(this.#options.ackWaitMs / 3)))
      const stop = new AbortController()
      const run = this.#run(message, job, work, stop.signal)
      this.#running.set(message, { run, alive, stop })
      await run
      clearInterval(alive)
      this.#running.delete(message)
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

  /** Hands the job back to the server now (if the connection is gone, the ack wait does it). */
  #nak(message: JsMsg): void {
    message.nak()
  }
}
