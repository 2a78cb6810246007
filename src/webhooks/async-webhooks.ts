import { AppError } from '../errors.ts'
import type { Attempt, Execution } from '../executions/execution-schemas.ts'
import { bounded } from '../executions/record-bounds.ts'
import { newTimeOrderedId } from '../ids.ts'
import type { Job, JobOutcome, JobQueue } from '../queue/job-queue.ts'
import type { NotRun, ScriptExecutor } from '../scripts/script-executor.ts'
import { carried, type TraceCarrier, traceIdOf } from '../tracing/tracing.ts'
import type { WebhookDedup } from './webhook-dedup.ts'
import { malformedJson, restoredInput, type StoredWebhookInput, storedInput, type WebhookInput } from './webhook-input.ts'
import type { Webhooks, WebhookTarget } from './webhooks.ts'

/** An accepted async webhook, as the queue stores it. */
export interface WebhookJob {
  readonly channelId: string
  /** The script the channel pointed to on arrival (for the record if it cannot run). */
  readonly scriptCode: string
  readonly input: StoredWebhookInput
  /** Earlier runs that failed. */
  readonly attempts: readonly Attempt[]
  /** The id of the request that was accepted (absent in jobs stored before request ids). */
  readonly requestId?: string
  /** When it was accepted (absent in jobs stored before 0.2). */
  readonly acceptedAt?: string
  /**
   * With tracing on, the accepted request's span (its W3C trace context): every run of the job
   * is a child of it, in the same trace, however much later it runs. Absent: tracing was off.
   */
  readonly trace?: TraceCarrier
  /** Its `opts.dedup` key: its record counts the duplicates that came before it ran. */
  readonly dedupKey?: string
}

/** Other work that shares the queue (deliveries): marked by its `kind`, which webhook jobs have not. */
interface OtherJob {
  readonly kind: string
}

export interface AsyncWebhooksOptions {
  readonly webhooks: Webhooks
  readonly executor: ScriptExecutor
  /** The queue, shared with other kinds of work; the composition root starts it and hands webhook jobs to `run`. */
  readonly queue: Pick<JobQueue<WebhookJob | OtherJob>, 'enqueue' | 'find'>
  /** Runs per job before it stays `error`. */
  readonly maxAttempts: number
  /** Wait before the first retry, ms; doubled for each one after. */
  readonly retryBaseMs: number
  readonly dedup?: WebhookDedup
}

/** The longest wait between two runs of a job. */
const MAX_RETRY_WAIT_MS = 10 * 60_000

/**
 * Async webhooks (`opts.issync = false`, SPEC §5.4): the request is stored as a job before the
 * caller gets its execution id, and run by the queue's workers. A failed run (error, timeout) is
 * retried with exponential backoff until `maxAttempts`; the record then stays `error` (or
 * `timeout`) and lists every attempt. A run that a shutdown stops is handed back: not an
 * attempt, its record `queued` again, and it runs at the next start.
 */
export class AsyncWebhooks {
  readonly #options: AsyncWebhooksOptions

  constructor(options: AsyncWebhooksOptions) {
    this.#options = options
  }

  /**
   * Stores the webhook durably and answers its execution id. `trace`: the request's span;
   * `options`: the id it is to have and its `opts.dedup` key (default: a new id, no key).
   */
  async accept(
    target: WebhookTarget,
    input: WebhookInput,
    requestId: string,
    trace?: TraceCarrier,
    options?: { readonly id: string; readonly dedupKey: string },
  ): Promise<string> {
    const id = options?.id ?? newTimeOrderedId()
    // No script runs now: a malformed JSON body is refused here, before it is accepted.
    let parsed: unknown
    if (input.body.kind === 'json') {
      try {
        parsed = JSON.parse(input.body.text)
      } catch {
        throw malformedJson(input.body.text)
      }
    }
    const job: WebhookJob = {
      channelId: target.channel.id,
      scriptCode: target.script.code,
      input: storedInput(input, parsed),
      attempts: [],
      requestId,
      acceptedAt: new Date().toISOString(),
      ...(trace && { trace: carried(trace) }),
      ...(options && { dedupKey: options.dedupKey }),
    }
    await this.#options.queue.enqueue(target.domainId, id, job)
    // A queue that can look its jobs up shows a waiting one as its queued execution (queued()):
    // no record to write now. Otherwise (JetStream) the queued record is written, off the answer.
    if (!this.#options.queue.find) {
      void this.#options.executor.recordNotRun(this.#notRun(id, target.domainId, job), { status: 'queued', accepted: true })
    }
    return id
  }

  /** An accepted job that has no record yet, as the execution the API shows: `queued`. */
  async queued(scope: string, id: string): Promise<Execution | undefined> {
    const job = await this.#options.queue.find?.(scope, id)
    if (!job || 'kind' in job.payload) return undefined
    const { channelId, scriptCode, input, attempts, requestId = null, acceptedAt, trace } = job.payload
    const traceId = traceIdOf(trace)
    return {
      id,
      channel_id: channelId,
      script_code: scriptCode,
      trigger: 'http',
      status: 'queued',
      started_at: acceptedAt ?? new Date(0).toISOString(),
      duration_ms: 0,
      input: JSON.parse(bounded({ webhook: input }).text),
      output: null,
      logs: [],
      error: null,
      replay_of: null,
      request_id: requestId,
      ...(traceId !== undefined && { trace_id: traceId }),
      ...(attempts.length > 0 && { attempts: attempts.map(attemptOf) }),
    }
  }

  /** One run of a job, from the queue. */
  async run(job: Job<WebhookJob>, stop: AbortSignal): Promise<JobOutcome> {
    const { channelId, input, requestId = null, trace } = job.payload
    const attempts = job.payload.attempts.map(attemptOf)
    let target: WebhookTarget
    try {
      target = this.#options.webhooks.targetById(channelId)
    } catch (error) {
      if (!(error instanceof AppError)) throw error
      // The channel or its script is gone: nothing can run this job any more.
      const message = `the webhook could not run: ${error.message}`
      await this.#options.executor.recordNotRun(this.#notRun(job.id, job.scope, job.payload), { status: 'error', message })
      return { done: true }
    }
    // Counted from the runs themselves: a run refused for load (below) is not an attempt.
    const attemptNo = attempts.length + 1
    const wait = Math.min(MAX_RETRY_WAIT_MS, this.#options.retryBaseMs * 2 ** (attemptNo - 1))
    let result: Awaited<ReturnType<Webhooks['run']>>
    try {
      result = await this.#options.webhooks.run(target, restoredInput(input), 'http', {
        executionId: job.id,
        earlierAttempts: attempts,
        retry: { attempt: attemptNo, maxAttempts: this.#options.maxAttempts, nextInMs: wait },
        requestId,
        abort: stop,
        trace,
      })
    } catch (error) {
      // Too many runs of the script waiting (1429): try again shortly, without counting it.
      if (error instanceof AppError && error.status === 429) return { retryInMs: 1000, payload: job.payload }
      throw error
    }
    // Acknowledged only once recorded (DESIGN §4): without its record the job runs again later.
    if (!(await result.recorded)) throw new Error(`the execution record of job ${job.id} could not be written`)
    const { dedupKey } = job.payload
    if (dedupKey !== undefined) await this.#options.dedup?.recorded(job.scope, channelId, dedupKey, job.id)
    if (result.status === 'aborted' && stop.aborted) {
      // Stopped by a shutdown: the job stays stored as it was and its record says queued again.
      await this.#options.executor.recordNotRun(this.#notRun(job.id, job.scope, job.payload), {
        status: 'queued',
        accepted: false,
      })
      return { handedBack: true }
    }
    if (result.status === 'ok' || attemptNo >= this.#options.maxAttempts) return { done: true }
    const attempt: Attempt = {
      at: result.startedAt,
      status: result.status,
      duration_ms: result.durationMs,
      error: result.error,
    }
    return { retryInMs: wait, payload: { ...job.payload, attempts: [...attempts, attempt] } satisfies WebhookJob }
  }

  #notRun(id: string, domainId: string, job: WebhookJob): NotRun {
    return {
      id,
      domainId,
      channelId: job.channelId,
      scriptCode: job.scriptCode,
      trigger: 'http',
      recordInput: { webhook: job.input },
      requestId: job.requestId ?? null,
      traceId: traceIdOf(job.trace),
    }
  }
}

/** An attempt as a job keeps it (jobs stored before 0.2 named its start `started_at`). */
function attemptOf(attempt: Attempt & { readonly started_at?: string }): Attempt {
  if (attempt.at !== undefined) return attempt
  const { started_at, ...rest } = attempt
  return { ...rest, at: started_at ?? new Date(0).toISOString() }
}
