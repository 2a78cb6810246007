import { createHash } from 'node:crypto'
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import type { ChannelDirectory } from '../channels/channel-directory.ts'
import type { Channel } from '../channels/channel-schemas.ts'
import { AppError } from '../errors.ts'
import { bounded } from '../executions/record-bounds.ts'
import { newTimeOrderedId } from '../ids.ts'
import type { DeliveryMetrics } from '../metrics/delivery-metrics.ts'
import type { EgressGuard } from '../net/egress.ts'
import type { Job, JobOutcome, JobQueue } from '../queue/job-queue.ts'
import type { Doc, FieldFilter, Store } from '../store/store.ts'
import { startHttpClientSpan } from '../tracing/http-client-span.ts'
import { carried, type TraceCarrier, type Tracing } from '../tracing/tracing.ts'
import type { Delivery, DeliveryAttempt } from './delivery-schemas.ts'

/** A delivery as stored: with the body it sends (hidden from the collection, which shows `payload` bounded). */
type StoredDelivery = Delivery & { readonly body: string }

import { signedHeaders } from './delivery-signing.ts'
import { GroupCommit } from './group-commit.ts'

/** An attempt of a delivery, as the queue keeps it: what is sent, and for which generation of the delivery. */
export interface DeliveryJob {
  readonly kind: 'delivery'
  readonly deliveryId: string
  readonly channelId: string
  /** The JSON body, exactly as signed and sent. */
  readonly body: string
  readonly eventType: string | null
  /** A retry route bumps the delivery's generation and queues a new job: an older one is stale. */
  readonly generation: number
  /** The span of the run that asked for it (`channels.deliver`), with tracing on. */
  readonly trace?: TraceCarrier
}

export function isDeliveryJob(payload: unknown): payload is DeliveryJob {
  return typeof payload === 'object' && payload !== null && (payload as { kind?: unknown }).kind === 'delivery'
}

export interface DeliveriesOptions {
  readonly store: Store
  readonly channels: ChannelDirectory
  /** The queue, shared with async webhooks; the composition root starts it and hands delivery jobs to `run`. */
  readonly queue: Pick<JobQueue<DeliveryJob | object>, 'enqueue' | 'find'>
  readonly egress: EgressGuard
  readonly metrics: DeliveryMetrics
  readonly tracing?: Tracing | undefined
  readonly onError: (error: unknown) => void
}

const DEFAULT_RETRY_S: readonly number[] = [5, 300, 1800, 7200, 18_000, 36_000, 36_000]
const DEFAULT_TIMEOUT_MS = 15_000
/** The largest payload a delivery takes (a JetStream message holds about 1 MiB), bytes of JSON. */
const MAX_DELIVERY_BYTES = 512 * 1024
/** How much of the payload the collection shows. */
const SHOWN_PAYLOAD_CHARS = 64 * 1024
const EXCERPT_BYTES = 1024
const JITTER = 0.1

export interface DeliverRequest {
  readonly payload: unknown
  readonly eventType?: string | undefined
  /** Makes the call idempotent per channel. */
  readonly id?: string | undefined
  readonly trace?: TraceCarrier | undefined
}

/**
 * Outbound deliveries (docs/deliveries.md): events POSTed to a channel's `url`, signed with
 * Standard Webhooks headers, stored durably before the caller gets the id, attempted from the
 * same queue engine as async webhooks and retried on the channel's schedule (with jitter) until
 * a 2xx or the schedule's end. The `deliveries` table holds what the collection shows; the job
 * holds what is sent. The egress rules of scripts apply.
 */
export class Deliveries {
  readonly #options: DeliveriesOptions
  // Keep-alive connections to receivers: a delivery per connection would pay a handshake each.
  readonly #http = new HttpAgent({ keepAlive: true, maxSockets: 64 })
  readonly #https = new HttpsAgent({ keepAlive: true, maxSockets: 64 })
  readonly #writes: GroupCommit

  constructor(options: DeliveriesOptions) {
    this.#options = options
    this.#writes = new GroupCommit(options.store)
  }

  close(): void {
    this.#http.destroy()
    this.#https.destroy()
  }

  /**
   * Stores a delivery to `channel` and queues its first attempt; resolves with its id once both
   * are durable. The same `id` on the same channel answers the existing delivery.
   */
  async deliver(domainId: string, channel: Channel, request: DeliverRequest): Promise<string> {
    if (channel.url === '') throw new AppError('bad_request', `channel '${channel.code}' has no url to deliver to`)
    if (channel.opts.deliver?.secret === undefined) {
      throw new AppError(
        'bad_request',
        `channel '${channel.code}' has no opts.deliver to sign deliveries with: set its secret (or send {} to have one generated)`,
      )
    }
    const body = JSON.stringify(request.payload ?? null)
    const size = Buffer.byteLength(body)
    if (size > MAX_DELIVERY_BYTES) {
      throw new AppError(
        'payload_too_large',
        `the payload is ${size} bytes of JSON; a delivery takes at most ${MAX_DELIVERY_BYTES}`,
      )
    }
    const id = request.id === undefined ? newTimeOrderedId() : idempotentId(channel.id, request.id)
    const now = new Date().toISOString()
    const delivery: StoredDelivery = {
      id,
      body,
      channel_id: channel.id,
      event_type: request.eventType ?? null,
      payload: JSON.parse(bounded(request.payload ?? null, SHOWN_PAYLOAD_CHARS).text),
      status: 'pending',
      attempts: [],
      next_attempt_at: now,
      created_at: now,
      idempotency_id: request.id ?? null,
      generation: 0,
    }
    const inserted = await this.#writes.run(async (tx) => {
      // The same idempotency id at once on two nodes: the lock makes the second see the first.
      if (request.id !== undefined) {
        await tx.lock(`delivery.${id}`)
        if (await tx.table('deliveries').get(domainId, id)) return false
      }
      await tx.table('deliveries').insert(domainId, delivery as unknown as Doc)
      return true
    })
    if (!inserted) return id
    const job: DeliveryJob = {
      kind: 'delivery',
      deliveryId: id,
      channelId: channel.id,
      body,
      eventType: delivery.event_type,
      generation: 0,
      ...(request.trace && { trace: carried(request.trace) }),
    }
    try {
      await this.#options.queue.enqueue(domainId, id, job)
    } catch (error) {
      await this.#options.store.table('deliveries').remove(domainId, id).catch(this.#options.onError)
      throw error
    }
    return id
  }

  /** Makes a failed or pending delivery due now (a new generation: a waiting attempt of the old one is dropped). */
  retry(domainId: string, id: string): Promise<StoredDelivery> {
    return this.#retry(domainId, id, false)
  }

  /**
   * `retry` for every failed or pending delivery that `filter` matches (at most 1000 at a time),
   * in one transaction; answers how many.
   */
  async retryMany(domainId: string, filter: Record<string, string>): Promise<number> {
    const conditions: FieldFilter[] = Object.entries(filter).map(([field, value]) => ({ path: [field], value }))
    const found = await this.#options.store.table('deliveries').list(domainId, {
      filter: conditions,
      order: [{ path: ['created_at'], descending: false }],
      offset: 0,
      limit: 1000,
    })
    const due = found.filter((doc) => ['failed', 'pending'].includes((doc as unknown as StoredDelivery).status))
    const retried = await Promise.allSettled(due.map((doc) => this.#retry(domainId, doc.id, true)))
    // One that succeeded or was cancelled meanwhile is left as it is.
    return retried.filter((result) => result.status === 'fulfilled').length
  }

  async #retry(domainId: string, id: string, batched: boolean): Promise<StoredDelivery> {
    const { delivery, job } = await this.#change(domainId, id, { batched }, (found) => {
      if (found.status === 'succeeded' || found.status === 'cancelled') {
        throw new AppError('conflict', `delivery '${id}' is ${found.status}: only failed and pending ones can be retried`)
      }
      return { ...found, status: 'pending', generation: found.generation + 1, next_attempt_at: new Date().toISOString() }
    })
    if (job) await this.#options.queue.enqueue(domainId, newTimeOrderedId(), { ...job, generation: delivery.generation })
    return delivery
  }

  /** Stops a pending delivery: no more attempts. */
  async cancel(domainId: string, id: string): Promise<StoredDelivery> {
    const { delivery } = await this.#change(domainId, id, {}, (found) => {
      if (found.status !== 'pending')
        throw new AppError('conflict', `delivery '${id}' is ${found.status}: only pending ones can be cancelled`)
      return { ...found, status: 'cancelled', next_attempt_at: null }
    })
    return delivery
  }

  /**
   * A delivery stored whose job is not (the node died between the two): queued again. Worker 0
   * runs it at start, when the queue can look jobs up.
   */
  async requeueOrphans(): Promise<number> {
    const find = this.#options.queue.find?.bind(this.#options.queue)
    if (!find) return 0
    const pending = await this.#options.store.table('deliveries').scan({ column: 'status', value: 'pending' })
    let queued = 0
    for (const { scope, doc } of pending) {
      const delivery = doc as unknown as StoredDelivery
      if (scope === null || (await find(scope, delivery.id)) !== undefined) continue
      // Retries run under other job ids: only a first attempt that never got its job is an orphan,
      // and one stored a minute ago or more (a delivery being made now gets its job in a moment).
      if (delivery.generation > 0 || delivery.attempts.length > 0 || Date.parse(delivery.created_at) > Date.now() - 60_000)
        continue
      const channel = this.#options.channels.byId(delivery.channel_id)
      if (!channel) continue
      await this.#options.queue.enqueue(scope, delivery.id, {
        kind: 'delivery',
        deliveryId: delivery.id,
        channelId: delivery.channel_id,
        body: delivery.body,
        eventType: delivery.event_type,
        generation: 0,
      })
      queued++
    }
    return queued
  }

  /** One attempt of a delivery, from the queue. Never throws: a failure is an attempt's outcome. */
  async run(job: Job<DeliveryJob>, stop: AbortSignal): Promise<JobOutcome> {
    try {
      return await this.#attemptJob(job, stop)
    } catch (error) {
      this.#options.onError(error)
      // The store failed under us: try again shortly, the job unchanged.
      return { retryInMs: 5000, payload: job.payload }
    }
  }

  async #attemptJob(job: Job<DeliveryJob>, stop: AbortSignal): Promise<JobOutcome> {
    const { deliveryId, channelId, generation } = job.payload
    // A waiting retry may have been cancelled (or retried anew) meanwhile: it is not sent then. A
    // generation's first attempt comes right after the write that queued it, so it skips that read
    // (one statement of a handful per delivery); a cancel in between still keeps the status.
    if (job.attempt > 1) {
      const current = (await this.#options.store.table('deliveries').get(job.scope, deliveryId)) as unknown as
        | StoredDelivery
        | undefined
      if (current?.status !== 'pending' || current.generation !== generation) return { done: true }
    }
    const entry = this.#options.channels.byId(channelId)
    const started = Date.now()
    const attempt = entry
      ? await this.#post(entry.channel, job.payload, job.attempt, stop)
      : failure(started, 0, 'the channel no longer exists')
    if (stop.aborted && attempt.status_code === null) return { handedBack: true }
    const retries = entry?.channel.opts.deliver?.retry_s ?? DEFAULT_RETRY_S
    const ok = attempt.status_code !== null && attempt.status_code >= 200 && attempt.status_code < 300
    // Counted per generation (each has its job): a retry route starts the schedule again.
    const count = job.attempt
    const waitMs = ok || !entry || count > retries.length ? undefined : jittered((retries[count - 1] as number) * 1000)
    let delivery: StoredDelivery
    try {
      ;({ delivery } = await this.#change(job.scope, deliveryId, { batched: true }, (found) => {
        // Cancelled or retried meanwhile: the attempt is kept, the rest is theirs.
        if (found.status !== 'pending' || found.generation !== generation)
          return { ...found, attempts: [...found.attempts, attempt] }
        return {
          ...found,
          attempts: [...found.attempts, attempt],
          status: ok ? 'succeeded' : waitMs === undefined ? 'failed' : 'pending',
          next_attempt_at: waitMs === undefined ? null : new Date(Date.now() + waitMs).toISOString(),
        }
      }))
    } catch (error) {
      // The delivery's row is gone (its making failed after the job was stored): nothing to record.
      if (error instanceof AppError && error.status === 404) return { done: true }
      throw error
    }
    if (entry) {
      const outcome = ok ? 'succeeded' : waitMs === undefined ? 'failed' : 'retried'
      this.#options.metrics.attempted(job.scope, entry.channel.code, outcome, attempt.duration_ms / 1000)
    }
    if (delivery.status !== 'pending' || delivery.generation !== generation || waitMs === undefined) return { done: true }
    return { retryInMs: waitMs, payload: job.payload }
  }

  /** POSTs the body to the channel's url, signed; the attempt as the delivery records it. */
  #post(channel: Channel, job: DeliveryJob, attemptNo: number, stop: AbortSignal): Promise<DeliveryAttempt> {
    const started = Date.now()
    const settings = channel.opts.deliver ?? {}
    const timeoutMs = settings.timeout_ms ?? DEFAULT_TIMEOUT_MS
    let url: URL
    try {
      url = new URL(channel.url)
    } catch {
      return Promise.resolve(failure(started, 0, `the channel's url is not a URL`))
    }
    const refused = this.#options.egress.literalRefusal(url.hostname)
    if (refused) return Promise.resolve(failure(started, 0, `refused by the egress rules: ${refused}`))
    if (settings.secret === undefined) return Promise.resolve(failure(started, 0, 'the channel has no opts.deliver.secret'))
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'Switchboard',
      ...signedHeaders(settings, job.deliveryId, job.body, started),
      ...(job.eventType !== null && { 'switchboard-event-type': job.eventType }),
    }
    const tracing = this.#options.tracing
    const span =
      tracing &&
      startHttpClientSpan(tracing, job.trace, 'POST', url, {
        'switchboard.delivery.id': job.deliveryId,
        'switchboard.attempt': attemptNo,
        'switchboard.channel.code': channel.code,
      })
    span?.inject(headers)
    const body = Buffer.from(job.body)
    return new Promise((resolve) => {
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest
      const finish = (attempt: DeliveryAttempt) => {
        if (attempt.status_code !== null) span?.answered(attempt.status_code)
        else span?.failed(attempt.error ?? 'no answer', stop.aborted ? 'aborted' : 'error')
        resolve(attempt)
      }
      const request = send(url, {
        method: 'POST',
        headers: { ...headers, 'content-length': String(body.length) },
        agent: url.protocol === 'https:' ? this.#https : this.#http,
        lookup: this.#options.egress.lookup,
        signal: AbortSignal.any([stop, AbortSignal.timeout(timeoutMs)]),
      })
      request.on('error', (error: NodeJS.ErrnoException) => {
        const reason =
          error.name === 'AbortError'
            ? stop.aborted
              ? 'the server is shutting down'
              : `no answer within ${timeoutMs} ms`
            : error.code === 'EGRESS_REFUSED'
              ? `refused by the egress rules: ${error.message}`
              : error.message
        finish(failure(started, Date.now() - started, reason))
      })
      request.on('response', (response: IncomingMessage) => {
        const chunks: Buffer[] = []
        let size = 0
        response.on('data', (chunk: Buffer) => {
          // Only the excerpt is kept; the rest is read to free the connection for the next one.
          if (size < EXCERPT_BYTES) chunks.push(chunk)
          size += chunk.length
        })
        response.on('error', (error) => finish(failure(started, Date.now() - started, error.message)))
        response.on('end', () => {
          const status = response.statusCode ?? 0
          const excerpt = Buffer.concat(chunks).subarray(0, EXCERPT_BYTES).toString('utf8')
          finish({
            at: new Date(started).toISOString(),
            status_code: status,
            duration_ms: Date.now() - started,
            error: status >= 200 && status < 300 ? null : `the receiver answered ${status}`,
            response_excerpt: excerpt === '' ? null : excerpt,
          })
        })
      })
      request.end(body)
    })
  }

  /**
   * Reads, changes and writes a delivery under a lock on it; 1404 when it does not exist.
   * `batched`: in the transaction of this turn's other attempts (GroupCommit).
   */
  async #change(
    domainId: string,
    id: string,
    options: { readonly batched?: boolean },
    change: (found: StoredDelivery) => StoredDelivery,
  ): Promise<{ delivery: StoredDelivery; job: DeliveryJob | undefined }> {
    const write = (fn: (tx: Store) => Promise<{ delivery: StoredDelivery; job: DeliveryJob | undefined }>) =>
      options.batched ? this.#writes.run(fn) : this.#options.store.transaction(fn)
    return write(async (tx) => {
      await tx.lock(`delivery.${id}`)
      const table = tx.table('deliveries')
      const found = (await table.get(domainId, id)) as unknown as StoredDelivery | undefined
      if (!found) throw new AppError('not_found', `delivery '${id}' does not exist`)
      const delivery = change(found)
      await table.update(domainId, delivery as unknown as Doc)
      return {
        delivery,
        job: {
          kind: 'delivery',
          deliveryId: id,
          channelId: found.channel_id,
          body: found.body,
          eventType: found.event_type,
          generation: delivery.generation,
        },
      }
    })
  }
}

function failure(started: number, durationMs: number, error: string): DeliveryAttempt {
  return { at: new Date(started).toISOString(), status_code: null, duration_ms: durationMs, error, response_excerpt: null }
}

/** Up to 10 % more: retries of deliveries that failed together spread out. */
function jittered(ms: number): number {
  return Math.round(ms * (1 + Math.random() * JITTER))
}

/** A delivery's id from the caller's idempotency id: the same on every node, per channel. */
function idempotentId(channelId: string, id: string): string {
  const hex = createHash('sha256').update(channelId).update('\u0000').update(id).digest('hex')
  // A UUID's shape (version 8: custom), so the id fits the collection's routes.
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`
}
