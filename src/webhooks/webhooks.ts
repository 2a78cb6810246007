import type { ChannelAccess } from '../channels/channel-access.ts'
import type { ChannelDirectory, ChannelEntry } from '../channels/channel-directory.ts'
import { recvTimeoutMs } from '../channels/channel-runtime.ts'
import type { Channel } from '../channels/channel-schemas.ts'
import { AppError } from '../errors.ts'
import type { Attempt } from '../executions/execution-schemas.ts'
import type { ScriptDirectory } from '../scripts/script-directory.ts'
import type { ExecutionResult, ScriptExecutor } from '../scripts/script-executor.ts'
import type { Svcscript } from '../scripts/svcscript-schemas.ts'
import { ChannelGate } from './channel-gate.ts'
import { type StoredWebhookInput, storedInput, type WebhookInput } from './webhook-input.ts'
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

  /** Runs a sync webhook and shapes its reply; 1429 when the channel has too many in flight. */
  async runSync(target: WebhookTarget, input: WebhookInput, requestId: string): Promise<WebhookReply> {
    if (!this.#gate.enter(target.channel.id)) {
      throw new AppError('rate_limited', `channel '${target.channel.code}' has too many webhooks in flight; retry shortly`)
    }
    let result: ExecutionResult
    try {
      result = await this.run(target, input, 'http', { requestId })
    } finally {
      this.#gate.leave(target.channel.id)
    }
    return replyOf(result)
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
      requestId?: string | null
      /** Ends the run as `aborted` (a shutdown handing an async job back). */
      abort?: AbortSignal
    } = {},
  ): Promise<ExecutionResult> {
    const { channel } = target
    // Parameters 1, 4 and 5 are the channel, the body and the headers: sent once, with the request.
    const startparams = [null, input.method, input.url, null, null, input.ip, input.protocol]
    const request = {
      method: input.method,
      path: input.path,
      query: input.query,
      headers: input.headers,
      body: input.body,
      rawBody: input.rawBody,
      ip: input.ip,
      protocol: input.protocol,
    }
    return this.#options.executor.execute({
      domainId: target.domainId,
      script: target.script,
      trigger,
      channel,
      startparams,
      request,
      startparamAliases: WEBHOOK_ALIASES,
      timeoutMs: target.timeoutMs,
      recordInput: webhookRecordInput(input),
      ...(options.executionId !== undefined && { executionId: options.executionId }),
      ...(options.replayOf !== undefined && { replayOf: options.replayOf }),
      ...(options.recordSoon !== undefined && { recordSoon: options.recordSoon }),
      ...(options.earlierAttempts !== undefined && { earlierAttempts: options.earlierAttempts }),
      ...(options.requestId !== undefined && { requestId: options.requestId }),
      ...(options.abort !== undefined && { abort: options.abort }),
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

/** What an execution record keeps of a webhook: its request, from which a replay runs again. */
export function webhookRecordInput(input: WebhookInput): { webhook: StoredWebhookInput } {
  // The channel is in the record already (channel_id): its entity is not copied in every one.
  return { webhook: storedInput(input) }
}

const WEBHOOK_ALIASES: Readonly<Record<number, string>> = { 0: 'channel', 3: 'request.body', 4: 'request.headers' }

/** The header naming the execution that made a webhook's answer (an addition to SPEC §5.3). */
export const EXECUTION_HEADER = 'switchboard-execution-id'

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
    body: JSON.stringify({ error_code: 1000 + status, error_message: message }),
  }
}
