import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { ChannelDirectory } from '../channels/channel-directory.ts'
import { channelForScripts, isChannelEntity, recvTimeoutMs } from '../channels/channel-runtime.ts'
import type { CollectionService } from '../collections/collection-service.ts'
import { parseListRequest } from '../collections/list-query.ts'
import { AppError } from '../errors.ts'
import { authOf } from '../http/auth-hook.ts'
import { errorResponses, IdParams, Uuid } from '../http/shared-schemas.ts'
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

/** Most executions one bulk replay runs. */
const MAX_BULK_REPLAY = 1000
/** Replays of one bulk replay running at once. */
const BULK_CONCURRENCY = 4

const BulkReplayBody = Type.Object(
  {
    filter: Type.Record(Type.String(), Type.Unknown(), {
      description: 'field → value, as the list filter takes it (e.g. {"status":"error","channel_id":"…"})',
    }),
    q: Type.Optional(Type.String({ maxLength: 200, description: 'text search, as the list takes it' })),
    since: Type.Optional(Type.String({ format: 'date-time', description: 'only executions started at or after this time' })),
    until: Type.Optional(Type.String({ format: 'date-time', description: 'only executions started before this time' })),
  },
  { additionalProperties: false },
)

const BulkReplayAnswer = Type.Object(
  {
    replayed: Type.Integer({ description: 'how many executions were run again' }),
    execution_ids: Type.Array(Uuid, { description: 'the new executions, in the order of the originals (oldest first)' }),
    skipped: Type.Array(Type.Object({ id: Uuid, reason: Type.String() }), {
      description: 'matched executions that could not be replayed (input too large to keep, channel or script gone)',
    }),
  },
  { additionalProperties: false, title: 'BulkReplay' },
)

/**
 * `POST /rest/v1/service/executions/replay {filter}`: replays every execution the filter
 * matches, oldest first, a few at a time, and answers once all have run. More than
 * MAX_BULK_REPLAY matches are refused (narrow the filter), so a replay never stops half-way.
 */
export function bulkReplayRoutes(app: FastifyInstance, deps: ReplayDeps): void {
  app.post(
    '/rest/v1/service/executions/replay',
    {
      config: { access: 'domain' },
      schema: {
        tags: ['executions'],
        operationId: 'replayExecutions',
        summary: `Run the input of every execution a filter matches (at most ${MAX_BULK_REPLAY}) again through the current script`,
        body: BulkReplayBody,
        response: { 200: BulkReplayAnswer, ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (request) => {
      const auth = authOf(request)
      const body = request.body as { filter: Record<string, unknown>; q?: string; since?: string; until?: string }
      const { query } = parseListRequest(deps.executions.def, {
        filter: JSON.stringify(body.filter),
        order: 'started_at',
        limit: String(MAX_BULK_REPLAY),
        ...(body.q !== undefined && { q: body.q }),
        ...(body.since !== undefined && { since: body.since }),
        ...(body.until !== undefined && { until: body.until }),
      })
      const { items, total } = await deps.executions.list(auth, query)
      if (total > MAX_BULK_REPLAY) {
        throw new AppError(
          'bad_request',
          `the filter matches ${total} executions; at most ${MAX_BULK_REPLAY} are replayed at once: narrow it (since, until, channel_id)`,
        )
      }
      const originals = items as unknown as Execution[]
      const ids: (string | undefined)[] = new Array(originals.length)
      const skipped: { id: string; reason: string }[] = []
      let next = 0
      const worker = async () => {
        while (next < originals.length) {
          const index = next++
          const original = originals[index] as Execution
          try {
            const result = await replay(deps, auth.domain.id, original, request.id, auth.origin)
            await result.recorded
            ids[index] = result.id
          } catch (error) {
            if (!(error instanceof AppError) || error.status === 429 || error.status === 508) throw error
            skipped.push({ id: original.id, reason: error.message })
          }
        }
      }
      await Promise.all(Array.from({ length: BULK_CONCURRENCY }, worker))
      const executionIds = ids.filter((id) => id !== undefined)
      return { replayed: executionIds.length, execution_ids: executionIds, skipped }
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
