import type { FastifyInstance } from 'fastify'
import type { ChannelDirectory } from '../channels/channel-directory.ts'
import { channelForScripts, isChannelEntity, recvTimeoutMs } from '../channels/channel-runtime.ts'
import type { CollectionService } from '../collections/collection-service.ts'
import { AppError } from '../errors.ts'
import { authOf } from '../http/auth-hook.ts'
import { errorResponses, IdParams } from '../http/shared-schemas.ts'
import type { CallOrigin } from '../iam/authenticator.ts'
import { DEFAULT_TIMEOUT_MS } from '../scripts/run-limits.ts'
import type { ScriptDirectory } from '../scripts/script-directory.ts'
import type { ExecutionResult, ScriptExecutor } from '../scripts/script-executor.ts'
import { restoredInput, type StoredWebhookInput } from '../webhooks/webhook-input.ts'
import type { Webhooks } from '../webhooks/webhooks.ts'
import { Execution } from './execution-schemas.ts'

export interface ReplayDeps {
  readonly executions: CollectionService
  readonly webhooks: Webhooks
  readonly scripts: ScriptDirectory
  readonly channels: ChannelDirectory
  readonly executor: ScriptExecutor
}

/**
 * `POST /rest/v1/service/executions/<id>/replay` (SPEC §5.5): runs the recorded input again
 * through the current script — a webhook through its channel's current `recv_svcscriptcode`,
 * anything else through the current version of the script it ran — and answers the new
 * execution (`trigger: "replay"`, `replay_of` the original). It waits for the run, whatever the
 * channel's sync mode.
 */
export function replayRoutes(app: FastifyInstance, deps: ReplayDeps): void {
  app.post(
    '/rest/v1/service/executions/:id/replay',
    {
      config: { access: 'domain' },
      schema: {
        tags: ['executions'],
        operationId: 'replayExecution',
        summary: 'Run the input of an execution again through the current script; answers the new execution',
        params: IdParams,
        response: { 200: Execution, ...errorResponses(400, 401, 403, 404, 409, 429, 508) },
      },
    },
    async (request) => {
      const auth = authOf(request)
      const { id } = request.params as { id: string }
      const original = (await deps.executions.get(auth, id)) as unknown as Execution
      const result = await replay(deps, auth.domain.id, original, request.id, auth.origin)
      await result.recorded
      return deps.executions.get(auth, result.id)
    },
  )
}

function replay(
  deps: ReplayDeps,
  domainId: string,
  original: Execution,
  requestId: string,
  origin: CallOrigin | undefined,
): Promise<ExecutionResult> {
  const input = original.input as Record<string, unknown> | null
  if (input === null || typeof input !== 'object' || input.truncated === true) {
    throw new AppError('conflict', `the input of execution ${original.id} was too large to keep whole, so it cannot be replayed`)
  }
  // Started by a script (api.request): one deeper in its chain, and over when it is.
  const options = {
    replayOf: original.id,
    recordSoon: true,
    requestId,
    ...(origin && { depth: origin.depth + 1, abort: origin.signal }),
  }
  if (input.webhook !== undefined) {
    if (original.channel_id === null) throw new AppError('conflict', 'the execution has no channel to replay through')
    const target = deps.webhooks.targetById(original.channel_id)
    return deps.webhooks.run(target, restoredInput(input.webhook as StoredWebhookInput), 'replay', options)
  }
  const script = deps.scripts.byCode(domainId, original.script_code)
  if (!script) throw new AppError('not_found', `the script '${original.script_code}' no longer exists`)
  const channel = original.channel_id === null ? null : (deps.channels.byId(original.channel_id)?.channel ?? null)
  const startparams: unknown[] = Array.isArray(input.startparams) ? [...input.startparams] : []
  // The record keeps the channel with its secrets masked: the replay gets the channel as it is now.
  if (channel && isChannelEntity(startparams[0], channel.id)) startparams[0] = channelForScripts(channel)
  return deps.executor.execute({
    domainId,
    script,
    trigger: 'replay',
    channel,
    startparams,
    request: input.request ?? null,
    timeoutMs: channel === null ? DEFAULT_TIMEOUT_MS : recvTimeoutMs(channel),
    ...options,
  })
}
