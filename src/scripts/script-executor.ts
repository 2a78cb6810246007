import { channelForScripts, startparamsForRecords } from '../channels/channel-runtime.ts'
import type { Channel } from '../channels/channel-schemas.ts'
import type { Actor } from '../collections/collection.ts'
import { AppError } from '../errors.ts'
import type { ExecutionRecorder } from '../executions/execution-recorder.ts'
import type { Attempt, ExecutionError, ExecutionStatus, LogLine, Trigger } from '../executions/execution-schemas.ts'
import { bounded, JsonText, NULL_JSON } from '../executions/record-bounds.ts'
import { newTimeOrderedId } from '../ids.ts'
import type { Logger } from '../logger.ts'
import type { ExecutionMetrics } from '../metrics/metrics.ts'
import type { TraceCarrier, TraceSpan, Tracing } from '../tracing/tracing.ts'
import { MAX_CHAIN_DEPTH } from './run-limits.ts'
import { ExecutionEnd, type ExecutionScope, type ScriptLogLevel } from './runtime/host-api.ts'
import { type RunInput, runInput } from './runtime/script-runtime.ts'
import { sourceLine } from './runtime/script-source.ts'
import type { ScriptRunner } from './script-runner.ts'
import type { Svcscript } from './svcscript-schemas.ts'

export interface ExecuteRequest {
  readonly domainId: string
  readonly script: Svcscript
  readonly trigger: Trigger
  readonly channel: Channel | null
  readonly startparams: readonly unknown[]
  /** The request object the script sees as `request`; null otherwise. */
  readonly request?: unknown
  /**
   * The run's input when the trigger built it as text already (webhooks: runInput() is made from
   * `startparams`, `request` and the channel otherwise).
   */
  readonly input?: RunInput
  /** A webhook's bytes, for `request.rawBody`. */
  readonly rawBody?: Uint8Array
  readonly timeoutMs: number
  /**
   * What the record shows as input (default: the start parameters and the request); JsonText as
   * it is. A function is asked once the run ended, told whether it finished (the isolate then
   * read all of the input).
   */
  readonly recordInput?: unknown
  /** The record's id when the caller chose it already (async jobs). */
  readonly executionId?: string
  readonly replayOf?: string | null
  /** Who started the run when that is not its channel (the run endpoint's caller): ExecutionScope.caller. */
  readonly caller?: Actor
  /** Ends the run as `aborted` (websocket `abort_svcscript`). */
  readonly abort?: AbortSignal
  /** The caller will wait for the record (`recorded`): write it without the batching delay. */
  readonly recordSoon?: boolean
  /** An async job's earlier runs: the record lists them with this one, and starts at the first. */
  readonly earlierAttempts?: readonly Attempt[]
  /**
   * An async job's run: which one it is, how many it gets, and the wait before the next when
   * this one fails. A failure with runs left is recorded `retrying` with `next_attempt_at`.
   */
  readonly retry?: { readonly attempt: number; readonly maxAttempts: number; readonly nextInMs: number }
  /**
   * Executions that led to this one (`channels.send`, a run or replay through `api.request`, a
   * push's reshaping script); default 0. Past MAX_CHAIN_DEPTH the run is refused (1508).
   */
  readonly depth?: number
  /** The id of the request that caused the run (its log lines, the record, outbound calls); default none. */
  readonly requestId?: string | null
  /**
   * With tracing on, the run's span is a child of this one: the webhook's or the websocket
   * frame's span, `channels.send`'s, or the trace context an async job kept. Default: the run
   * starts a trace.
   */
  readonly trace?: TraceCarrier | undefined
}

export interface ExecutionResult {
  readonly id: string
  readonly status: Exclude<ExecutionStatus, 'queued' | 'running' | 'retrying'>
  /** The script's variables (`result`, `status`, …); Uint8Array values restored. */
  readonly variables: Record<string, unknown>
  /** The same as JSON data: Uint8Array values as `{"$bytes": base64}`. */
  readonly output: Record<string, unknown>
  readonly logs: readonly LogLine[]
  readonly error: ExecutionError | null
  readonly durationMs: number
  /** Resolves once the record is stored. */
  /** Resolves once the record's batch is written: true, or false if the write failed. */
  readonly recorded: Promise<boolean>
  readonly startedAt: string
}

export interface ScriptExecutorOptions {
  readonly runner: ScriptRunner
  readonly recorder: ExecutionRecorder
  /** Log lines kept per execution. */
  readonly maxLogLines: number
  readonly metrics: ExecutionMetrics
  /** Each execution ends with a line: `execution finished` at debug, `execution failed` (error, timeout) at info. */
  readonly logger: Logger
  /** Whether a channel's type allows only relative `http.request` URLs (ExecutionScope.relativeUrlsOnly). Default: never. */
  readonly relativeUrlsOnly?: (channel: Channel) => boolean
  /** Each run gets a span (`script <code>`), and its record the trace id. Default: off. */
  readonly tracing?: Tracing | undefined
}

/**
 * Runs a script for a trigger and records the execution (SPEC §5.5): every trigger goes through
 * here, so every execution is recorded, counted and logged the same way.
 */
export class ScriptExecutor {
  readonly #runner: ScriptRunner
  readonly #recorder: ExecutionRecorder
  readonly #maxLogLines: number
  readonly #metrics: ExecutionMetrics
  readonly #logger: Logger
  readonly #relativeUrlsOnly: (channel: Channel) => boolean
  readonly #tracing: Tracing | undefined

  constructor(options: ScriptExecutorOptions) {
    this.#tracing = options.tracing
    this.#runner = options.runner
    this.#recorder = options.recorder
    this.#maxLogLines = options.maxLogLines
    this.#metrics = options.metrics
    this.#logger = options.logger
    this.#relativeUrlsOnly = options.relativeUrlsOnly ?? (() => false)
  }

  async execute(request: ExecuteRequest): Promise<ExecutionResult> {
    if ((request.depth ?? 0) > MAX_CHAIN_DEPTH) {
      throw new AppError(
        'loop_detected',
        `more than ${MAX_CHAIN_DEPTH} executions in one chain: script '${request.script.code}' was not run (do scripts start each other in a loop?)`,
      )
    }
    // Time-ordered: a record's row goes at the end of the table's id index, not at a random place.
    const id = request.executionId ?? newTimeOrderedId()
    const startedAt = new Date()
    const started = performance.now()
    const logs = new LogCollector(this.#maxLogLines, started)
    const ended = new ExecutionEnd()
    const channel = request.channel && (channelForScripts(request.channel) as Channel)
    const requestId = request.requestId ?? null
    const span = this.#tracing && runSpan(this.#tracing, id, request)
    const scope: ExecutionScope = {
      executionId: id,
      domainId: request.domainId,
      channel,
      ...(channel && this.#relativeUrlsOnly(channel) && { relativeUrlsOnly: true }),
      ...(request.caller && { caller: request.caller }),
      scriptCode: request.script.code,
      depth: request.depth ?? 0,
      requestId,
      ...(request.rawBody !== undefined && { rawBody: request.rawBody }),
      ...(span && { trace: span }),
      logLevel: request.script.opts.loglevel as ScriptLogLevel,
      get signal() {
        return ended.signal
      },
      log: (level, text, ms) => logs.add(level, text, ms),
    }
    const input = request.input ?? runInput({ startparams: request.startparams, request: request.request ?? null, channel })
    let result: Awaited<ReturnType<ScriptRunner['run']>>
    this.#metrics.inFlight.value++
    try {
      result = await this.#runner.run(request.script, scope, input, request.timeoutMs, request.abort)
    } catch (error) {
      span?.fail(error instanceof Error ? error.message : String(error), 'internal')
      span?.end()
      throw error
    } finally {
      this.#metrics.inFlight.value--
      ended.end()
    }
    if (span && (result.kind === 'busy' || result.kind === 'bad_input')) {
      span.fail(result.kind === 'busy' ? 'too many runs of the script are waiting' : 'the body is not valid JSON', result.kind)
      span.end()
    }
    if (result.kind === 'busy') {
      throw new AppError('rate_limited', `too many runs of script '${request.script.code}' are waiting; try again shortly`)
    }
    // The body a webhook brought is not JSON: refused, as if before any script (nothing of it ran).
    if (result.kind === 'bad_input') throw new AppError('bad_request', `the body is not valid JSON: ${result.message}`)
    const durationMs = Math.round((performance.now() - started) * 100) / 100

    let status: ExecutionResult['status'] = 'ok'
    let variables: Record<string, unknown> = {}
    let output: Record<string, unknown> = {}
    let outputJson = NULL_JSON
    let error: ExecutionError | null = null
    switch (result.kind) {
      case 'ok':
        output = result.output
        outputJson = new JsonText(result.outputJson)
        variables = revived(output) as Record<string, unknown>
        break
      case 'error':
        status = 'error'
        error = located(result.message, result.stack)
        break
      case 'timeout':
        status = 'timeout'
        error = { message: `the script did not finish within ${request.timeoutMs} ms` }
        break
      case 'aborted':
        status = 'aborted'
        error = { message: 'the execution was aborted' }
        break
      case 'stopped':
        status = 'error'
        error = { message: result.reason }
        break
    }
    if (span) {
      span.set({ 'switchboard.execution.status': status })
      if (error) span.fail(error.message, status === 'error' ? 'script_error' : status)
      span.end()
    }
    const lines = logs.lines()
    const retry = request.retry
    const retrying = retry !== undefined && (status === 'error' || status === 'timeout') && retry.attempt < retry.maxAttempts
    const recorded = this.#recorder.record(
      request.domainId,
      {
        id,
        channel_id: request.channel?.id ?? null,
        script_code: request.script.code,
        trigger: request.trigger,
        status: retrying ? 'retrying' : status,
        // An async job's record starts with its first run, whichever run it shows.
        started_at: request.earlierAttempts?.[0]?.at ?? startedAt.toISOString(),
        duration_ms: durationMs,
        input: bounded(recordedInput(request, result.kind === 'ok')),
        output: bounded(outputJson),
        logs: lines,
        error,
        replay_of: request.replayOf ?? null,
        ...(request.script.version !== undefined && { script_version: request.script.version }),
        request_id: requestId,
        ...(span && { trace_id: span.traceId }),
        ...(request.earlierAttempts && {
          attempts: [...request.earlierAttempts, { at: startedAt.toISOString(), status, duration_ms: durationMs, error }],
        }),
        ...(retry && { attempt: retry.attempt, max_attempts: retry.maxAttempts }),
        ...(retrying && { next_attempt_at: new Date(Date.now() + retry.nextInMs).toISOString() }),
      },
      { soon: request.recordSoon ?? false },
    )
    this.#metrics.finished(request.domainId, request.channel?.code ?? '', request.trigger, status, durationMs / 1000)
    const level = status === 'error' || status === 'timeout' ? 'info' : 'debug'
    if (this.#logger.isLevelEnabled(level)) {
      this.#logger[level](
        {
          reqId: requestId ?? undefined,
          execution_id: id,
          domain_id: request.domainId,
          channel_id: request.channel?.id,
          script_code: request.script.code,
          trigger: request.trigger,
          status,
          ms: durationMs,
          trace_id: span?.traceId,
        },
        level === 'info' ? 'execution failed' : 'execution finished',
      )
    }
    return { id, status, variables, output, logs: lines, error, durationMs, recorded, startedAt: startedAt.toISOString() }
  }

  /**
   * Records an execution that did not run: waiting (`queued`), or one that can no longer run
   * (`error`: its channel or script was deleted meanwhile). `accepted`: the first record of a job
   * just accepted, written only if the execution has none yet (another node may have run it
   * already); a job handed back replaces its record.
   */
  recordNotRun(
    request: NotRun,
    outcome: { status: 'queued'; accepted: boolean } | { status: 'error'; message: string },
  ): Promise<boolean> {
    if (outcome.status === 'error') this.#metrics.finished(request.domainId, '', request.trigger, 'error', undefined)
    return this.#recorder.record(
      request.domainId,
      {
        id: request.id,
        channel_id: request.channelId,
        script_code: request.scriptCode,
        trigger: request.trigger,
        status: outcome.status,
        started_at: new Date().toISOString(),
        duration_ms: 0,
        input: bounded(request.recordInput ?? null),
        output: NULL_JSON,
        logs: [],
        error: outcome.status === 'error' ? { message: outcome.message } : null,
        replay_of: null,
        request_id: request.requestId,
        ...(request.traceId !== undefined && { trace_id: request.traceId }),
      },
      { ifAbsent: outcome.status === 'queued' && outcome.accepted },
    )
  }
}

/**
 * The span of one run: a child of the trigger's (ExecuteRequest.trace). Its name is the script's
 * code (`script orders-in`), like a function's name: few per domain.
 */
function runSpan(tracing: Tracing, executionId: string, request: ExecuteRequest): TraceSpan {
  return tracing.start(`script ${request.script.code}`, {
    kind: 'internal',
    parent: request.trace,
    attributes: {
      'switchboard.execution.id': executionId,
      'switchboard.trigger': request.trigger,
      'switchboard.domain.id': request.domainId,
      'switchboard.channel.id': request.channel?.id,
      'switchboard.channel.code': request.channel?.code,
      'switchboard.script.code': request.script.code,
      ...(request.replayOf && { 'switchboard.replay_of': request.replayOf }),
      ...(request.earlierAttempts && { 'switchboard.attempt': request.earlierAttempts.length + 1 }),
    },
  })
}

/** An execution recorded without a run. */
export interface NotRun {
  readonly id: string
  readonly domainId: string
  readonly channelId: string | null
  readonly scriptCode: string
  readonly trigger: Trigger
  readonly recordInput: unknown
  readonly requestId: string | null
  /** The trace of the request that caused it, when tracing was on. */
  readonly traceId?: string | undefined
}

/** What the record keeps as the input of a run (ExecuteRequest.recordInput). */
function recordedInput(request: ExecuteRequest, finished: boolean): unknown {
  const given = request.recordInput
  if (typeof given === 'function') return (given as (finished: boolean) => unknown)(finished)
  return given ?? { startparams: startparamsForRecords(request.startparams, request.channel), request: request.request ?? null }
}

/** An error with its line and column in the user's source, when the stack shows them. */
function located(message: string, stack: string | undefined): ExecutionError {
  const at = stack === undefined ? null : /svcscript:(\d+):(\d+)/.exec(stack)
  if (!at) return { message }
  return { message, line: sourceLine(Number(at[1])), column: Number(at[2]) }
}

/**
 * `value` with the guest's `{"$bytes": base64}` encoding turned back into Uint8Array values. Parts
 * without bytes are shared with `value`, not copied.
 */
function revived(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined
    for (let i = 0; i < value.length; i++) {
      const item = revived(value[i])
      if (item === value[i]) continue
      copy ??= [...value]
      copy[i] = item
    }
    return copy ?? value
  }
  const record = value as Record<string, unknown>
  const keys = Object.keys(record)
  if (keys.length === 1 && typeof record.$bytes === 'string') return new Uint8Array(Buffer.from(record.$bytes, 'base64'))
  let copy: Record<string, unknown> | undefined
  for (const key of keys) {
    const item = revived(record[key])
    if (item === record[key]) continue
    copy ??= { ...record }
    copy[key] = item
  }
  return copy ?? record
}

/** The lines of one execution, timed from its start; bounded again here, as a backstop. */
class LogCollector {
  readonly #maxLines: number
  readonly #started: number
  readonly #lines: LogLine[] = []

  constructor(maxLines: number, started: number) {
    this.#maxLines = maxLines
    this.#started = started
  }

  /** `ms`: when the line was written, if its producer timed it; else now. */
  add(level: ScriptLogLevel, text: string, ms?: number): void {
    if (this.#lines.length > this.#maxLines) return
    this.#lines.push({ ms: ms ?? Math.round((performance.now() - this.#started) * 100) / 100, level, text })
  }

  lines(): LogLine[] {
    return this.#lines
  }
}
