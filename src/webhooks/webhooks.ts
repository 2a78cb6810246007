import type { ChannelAccess } from '../channels/channel-access.ts'
import type { ChannelDirectory, ChannelEntry } from '../channels/channel-directory.ts'
import { channelForScriptsJson, recvTimeoutMs } from '../channels/channel-runtime.ts'
import type { Channel } from '../channels/channel-schemas.ts'
import { AppError, errorBody } from '../errors.ts'
import type { Attempt } from '../executions/execution-schemas.ts'
import { bounded, JsonText } from '../executions/record-bounds.ts'
import type { ScriptDirectory } from '../scripts/script-directory.ts'
import type { ExecuteRequest, ExecutionResult, ScriptExecutor } from '../scripts/script-executor.ts'
import type { Svcscript } from '../scripts/svcscript-schemas.ts'
import type { TraceCarrier } from '../tracing/tracing.ts'
import { ChannelGate } from './channel-gate.ts'
import type { SyncRun } from './webhook-dedup.ts'
import { scriptBodyJson, type WebhookBody, type WebhookInput } from './webhook-input.ts'
import { replyFrom, type WebhookReply } from './webhook-reply.ts'

export interface WebhooksOptions {
  readonly channels: ChannelDirectory
  readonly access: ChannelAccess
  readonly scripts: ScriptDirectory
  readonly executor: ScriptExecutor
  /** Sync webhooks in flight per channel. */
  readonly perChannelLimit: number
}

/** The channel and script a webhook runs, once its token and sender are accepted. */
export interface WebhookTarget {
  readonly domainId: string
  readonly channel: Channel
  readonly script: Svcscript
  readonly timeoutMs: number
}

/**
 * Webhooks (SPEC §5): finds the channel by its token in memory, checks the sender against the
 * channel's `ipmask`, and runs the channel's `recv_svcscriptcode` with start parameters 1–7.
 */
export class Webhooks {
  readonly #options: WebhooksOptions
  readonly #gate: ChannelGate

  constructor(options: WebhooksOptions) {
    this.#options = options
    this.#gate = new ChannelGate(options.perChannelLimit)
  }

  /** The channel a token opens, checked against the sender; throws the SPEC's errors. */
  target(token: string | undefined, senderIp: string): WebhookTarget {
    return this.#targetOf(this.#options.access.open(token, senderIp, '/exec/<token>'))
  }

  /** The channel's current target by its id (queued jobs, replays); throws 1404 when it is gone. */
  targetById(channelId: string): WebhookTarget {
    const entry = this.#options.channels.byId(channelId)
    if (!entry) throw new AppError('not_found', 'the channel no longer exists')
    return this.#targetOf(entry)
  }

  #targetOf(entry: ChannelEntry): WebhookTarget {
    return { ...entry, script: this.#script(entry), timeoutMs: recvTimeoutMs(entry.channel) }
  }

  /** Runs a sync webhook and shapes its reply; 1429 when the channel has too many in flight. `trace`: the request's span. */
  async runSync(target: WebhookTarget, input: WebhookInput, requestId: string, trace?: TraceCarrier): Promise<WebhookReply> {
    return (await this.runSyncRecorded(target, input, requestId, trace)).reply
  }

  /** runSync, with the execution id to give the run, answering when its record is stored too (opts.dedup). */
  async runSyncRecorded(
    target: WebhookTarget,
    input: WebhookInput,
    requestId: string,
    trace?: TraceCarrier,
    executionId?: string,
  ): Promise<SyncRun> {
    if (!this.#gate.enter(target.channel.id)) {
      throw new AppError('rate_limited', `channel '${target.channel.code}' has too many webhooks in flight; retry shortly`)
    }
    let result: ExecutionResult
    try {
      result = await this.run(target, input, 'http', { requestId, trace, ...(executionId !== undefined && { executionId }) })
    } finally {
      this.#gate.leave(target.channel.id)
    }
    return { reply: replyOf(result), recorded: result.recorded }
  }

  /** Runs the channel's script for `input` (a webhook now, a queued job, or a replay). */
  run(
    target: WebhookTarget,
    input: WebhookInput,
    trigger: 'http' | 'replay',
    options: {
      executionId?: string
      replayOf?: string
      recordSoon?: boolean
      earlierAttempts?: readonly Attempt[]
      retry?: ExecuteRequest['retry']
      requestId?: string | null
      /** Ends the run as `aborted` (a shutdown handing an async job back, the end of the execution that replays it). */
      abort?: AbortSignal
      /** Executions that led to this one (a replay through api.request); default 0. */
      depth?: number
      /** The parent of the run's span (the request's, or the one a queued job kept); default none. */
      trace?: TraceCarrier | undefined
    } = {},
  ): Promise<ExecutionResult> {
    const { channel } = target
    const { input: json, body, record } = webhookTexts(input, channelForScriptsJson(channel))
    return this.#options.executor.execute({
      domainId: target.domainId,
      script: target.script,
      trigger,
      channel,
      startparams: [],
      input: body === undefined ? { json } : { json, body },
      ...(input.body.kind !== 'none' && { rawBody: input.body.bytes }),
      timeoutMs: target.timeoutMs,
      recordInput: (finished: boolean) => new JsonText(record(finished)),
      ...(options.executionId !== undefined && { executionId: options.executionId }),
      ...(options.replayOf !== undefined && { replayOf: options.replayOf }),
      ...(options.recordSoon !== undefined && { recordSoon: options.recordSoon }),
      ...(options.earlierAttempts !== undefined && { earlierAttempts: options.earlierAttempts }),
      ...(options.retry !== undefined && { retry: options.retry }),
      ...(options.requestId !== undefined && { requestId: options.requestId }),
      ...(options.abort !== undefined && { abort: options.abort }),
      ...(options.depth !== undefined && { depth: options.depth }),
      trace: options.trace,
    })
  }

  #script(entry: ChannelEntry): Svcscript {
    const code = entry.channel.recv_svcscriptcode
    if (code === '')
      throw new AppError('not_found', `channel '${entry.channel.code}' has no script for webhooks (recv_svcscriptcode)`)
    const script = this.#options.scripts.byCode(entry.domainId, code)
    if (!script) throw new AppError('not_found', `the webhook script '${code}' of channel '${entry.channel.code}' does not exist`)
    return script
  }
}

/**
 * A webhook's run input and record input as JSON text, each made in one pass over strings that
 * are serialised once: the headers, the query, the channel (cached per version) and the body. A
 * JSON body is spliced into neither as a value here: the run gets it as text of its own (parsed
 * in the isolate, so a malformed one cannot change the input around it), and the record takes
 * the text only after that parse accepted it (the run happens before the record is written).
 *
 * `input`: {startparams, request, channel, startparamAliases, rawBody} — parameters 1, 4 and 5
 * are the channel, the body and the headers, sent once as parts of the request (SPEC §5.2).
 * `record(parsed)`: {webhook: StoredWebhookInput} (SPEC §5.6), bounded; `parsed` says the run's
 * isolate parsed the body (it finished), else a JSON body is checked here first.
 */
function webhookTexts(
  input: WebhookInput,
  channelJson: string,
): { input: string; body?: string; record: (parsed: boolean) => string } {
  const s = JSON.stringify
  const method = s(input.method)
  const ip = s(input.ip)
  const protocol = s(input.protocol)
  const headers = s(input.headers)
  const query = s(input.query)
  const kind = input.body.kind
  const scriptBody = kind === 'json' ? 'null' : scriptBodyJson(input.body)
  const text =
    `{"startparams":[null,${method},${s(input.url)},null,null,${ip},${protocol}],` +
    `"request":{"method":${method},"path":${s(input.path)},"query":${query},"headers":${headers},"body":${scriptBody},` +
    `"ip":${ip},"protocol":${protocol}${input.verified ? `,"verified":${s(input.verified)}` : ''}},"channel":${channelJson},` +
    `"startparamAliases":{"0":"channel","3":"request.body","4":"request.headers"},"rawBody":${kind !== 'none'}}`
  const record = (parsed: boolean) =>
    bounded(
      new JsonText(
        `{"webhook":{"method":${method},"url":${s(input.url)},"path":${s(input.path)},"query":${query},"headers":${headers},` +
          `"body":${recordBodyJson(input.body, scriptBody, parsed)}${kind === 'binary' ? ',"body_encoding":"base64"' : ''},` +
          `"ip":${ip},"protocol":${protocol}}}`,
      ),
    ).text
  return { input: text, ...(kind === 'json' && { body: input.body.text }), record }
}

/**
 * The body as the record keeps it (StoredWebhookInput.body): JSON as it came (once it is known to
 * parse: a JSON body that does not is kept as its text), a form or text as text, bytes as base64.
 */
function recordBodyJson(body: WebhookBody, scriptBody: string, parsed: boolean): string {
  switch (body.kind) {
    case 'json':
      return parsed || parses(body.text) ? body.text : JSON.stringify(body.text)
    case 'form':
      return JSON.stringify(body.text)
    default:
      // none: null; text: the string; binary: the same base64 the script sees.
      return scriptBody
  }
}

/** The header naming the execution that made a webhook's answer (an addition to SPEC §5.3). */
const EXECUTION_HEADER = 'switchboard-execution-id'

/** SPEC §5.3: the variables make the reply; failures name only the execution id. */
function replyOf(result: ExecutionResult): WebhookReply {
  if (result.status === 'timeout') return failure(result.id, 504, `the script did not answer in time (execution ${result.id})`)
  if (result.status !== 'ok') return failure(result.id, 500, `script failed (execution ${result.id})`)
  const reply = replyFrom(result.variables)
  if (typeof reply === 'string') return failure(result.id, 500, `script failed (execution ${result.id}): ${reply}`)
  reply.headers[EXECUTION_HEADER] = result.id
  return reply
}

function failure(executionId: string, status: number, message: string): WebhookReply {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', [EXECUTION_HEADER]: executionId },
    body: JSON.stringify(errorBody(status, message)),
  }
}

function parses(text: string): boolean {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}
