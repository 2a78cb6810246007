import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { ChannelDirectory } from '../channels/channel-directory.ts'
import type { CollectionService } from '../collections/collection-service.ts'
import { invalidField } from '../errors.ts'
import { Execution } from '../executions/execution-schemas.ts'
import { authOf } from '../http/auth-hook.ts'
import { Code, errorResponses, IdParams } from '../http/shared-schemas.ts'
import { DEFAULT_TIMEOUT_MS, MAX_STARTPARAMS, MAX_TIMEOUT_MS } from './run-limits.ts'
import type { ScriptExecutor } from './script-executor.ts'
import { Svcscript } from './svcscript-schemas.ts'

const RunBody = Type.Object(
  {
    startparams: Type.Optional(
      Type.Array(Type.Unknown(), { maxItems: MAX_STARTPARAMS, description: 'startparam(1) … startparam(20)' }),
    ),
    timeout: Type.Optional(
      Type.Integer({ minimum: 1, maximum: MAX_TIMEOUT_MS, description: `ms, default ${DEFAULT_TIMEOUT_MS}` }),
    ),
    channel: Type.Optional(
      Type.Union([Code, Type.Null()], { description: 'run as for this channel: `channel`, and the base of relative http URLs' }),
    ),
  },
  { additionalProperties: false },
)

const RunAnswer = Type.Object({
  execution_id: Execution.properties.id,
  status: Execution.properties.status,
  variables: Type.Record(Type.String(), Type.Unknown()),
  logs: Execution.properties.logs,
  error: Execution.properties.error,
  duration_ms: Type.Number(),
})

export interface ScriptRoutesDeps {
  readonly scripts: CollectionService
  readonly channels: ChannelDirectory
  readonly executor: ScriptExecutor
}

/** `POST /rest/v1/service/svcscripts/<id>/run`: try a script, as an editor or a CLI does. */
export function scriptRoutes(app: FastifyInstance, { scripts, channels, executor }: ScriptRoutesDeps): void {
  app.post(
    '/rest/v1/service/svcscripts/:id/run',
    {
      config: { access: 'domain' },
      schema: {
        tags: ['svcscripts'],
        operationId: 'runScript',
        summary: 'Run a script once with the given start parameters; the run is recorded as an execution',
        params: IdParams,
        body: RunBody,
        response: { 200: RunAnswer, ...errorResponses(400, 401, 403, 404, 429, 508) },
      },
    },
    async (request) => {
      const auth = authOf(request)
      const { id } = request.params as { id: string }
      const body = request.body as { startparams?: unknown[]; timeout?: number; channel?: string | null }
      const script = (await scripts.get(auth, id)) as unknown as Svcscript
      let channel = null
      if (typeof body.channel === 'string') {
        channel = channels.byCode(auth.domain.id, body.channel)?.channel ?? null
        if (!channel) throw invalidField('channel', `'${body.channel}' is not a channel of this domain`)
      }
      const result = await executor.execute({
        domainId: auth.domain.id,
        script,
        trigger: 'svcscript',
        channel,
        startparams: body.startparams ?? [],
        timeoutMs: body.timeout ?? DEFAULT_TIMEOUT_MS,
        recordSoon: true,
        // A test run acts with its caller's rights (api.request), not with the channel's.
        caller: auth.actor,
        requestId: request.id,
        // Started by a script (api.request): one deeper in its chain, and over when it is.
        ...(auth.origin && { depth: auth.origin.depth + 1, abort: auth.origin.signal }),
      })
      await result.recorded
      return {
        execution_id: result.id,
        status: result.status,
        variables: result.output,
        logs: result.logs,
        error: result.error,
        duration_ms: result.durationMs,
      }
    },
  )
  app.post(
    '/rest/v1/service/svcscripts/:id/release',
    {
      config: { access: 'domain' },
      schema: {
        tags: ['svcscripts'],
        operationId: 'releaseScript',
        summary:
          'End the quarantine of a script (SPEC §13): its version runs in the workers again instead of only in script hosts',
        params: IdParams,
        response: { 200: Svcscript, ...errorResponses(401, 403, 404) },
      },
    },
    async (request) => {
      const { id } = request.params as { id: string }
      return scripts.update(authOf(request), id, { quarantined: null })
    },
  )
}
