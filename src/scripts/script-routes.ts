import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { ChannelDirectory } from '../channels/channel-directory.ts'
import type { CollectionService } from '../collections/collection-service.ts'
import { AppError, invalidField } from '../errors.ts'
import { Execution } from '../executions/execution-schemas.ts'
import { authOf } from '../http/auth-hook.ts'
import { Code, errorResponses, IdParams } from '../http/shared-schemas.ts'
import { DEFAULT_TIMEOUT_MS, MAX_STARTPARAMS, MAX_TIMEOUT_MS } from './run-limits.ts'
import type { SourceProblem } from './runtime/script-source.ts'
import type { ScriptExecutor } from './script-executor.ts'
import { Svcscript } from './svcscript-schemas.ts'
import { typeProblems } from './type-check.ts'

const SCRIPTS = '/rest/v1/service/svcscripts'
const typeWarnings = new WeakMap<object, SourceProblem[]>()

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
  // Saves of a TypeScript script are type-checked: refused with ?strict=true, else saved with
  // the problems as `warnings` in the answer.
  app.addHook('preHandler', async (request) => {
    const route = request.routeOptions.url
    const saving = (request.method === 'POST' && route === SCRIPTS) || (request.method === 'PATCH' && route === `${SCRIPTS}/:id`)
    if (!saving) return
    const body = request.body as { lang?: string | null; source?: string | null }
    let { lang, source } = body
    if (request.method === 'PATCH') {
      if (lang === undefined && source === undefined) return
      const stored = await scripts.get(authOf(request), (request.params as { id: string }).id).catch(() => undefined)
      if (lang === undefined) lang = stored?.lang as string | undefined
      if (source === undefined) source = stored?.source as string | undefined
    }
    if (lang !== 'ts' || typeof source !== 'string' || source === '') return
    const problems = typeProblems(source)
    if (problems.length === 0) return
    if ((request.query as { strict?: string }).strict === 'true') {
      const [first] = problems as [SourceProblem]
      throw new AppError(
        'bad_request',
        `source does not type-check: line ${first.line}, column ${first.column}: ${first.message}`,
        problems.map((problem) => ({
          field: 'source',
          message: `line ${problem.line}, column ${problem.column}: ${problem.message}`,
        })),
      )
    }
    typeWarnings.set(request, problems)
  })
  app.addHook('preSerialization', async (request, reply, payload) => {
    const warnings = typeWarnings.get(request)
    if (!warnings || reply.statusCode !== 200 || payload === null || typeof payload !== 'object') return payload
    return { ...payload, warnings }
  })

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
