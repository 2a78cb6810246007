import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import type { CollectionService } from '../collections/collection-service.ts'
import { AppError } from '../errors.ts'
import { authOf } from '../http/auth-hook.ts'
import type { SourceProblem } from './runtime/script-source.ts'
import { typeProblems } from './type-check.ts'

const SCRIPTS = '/rest/v1/service/svcscripts'

/**
 * Saves of a TypeScript script (`POST …/svcscripts`, `PATCH …/svcscripts/<id>`) are
 * type-checked: refused with `?strict=true`, else saved with the problems as `warnings` in the
 * answer. The hooks go on those two routes only (registered after this), not on every request.
 */
export function typeCheckedSaves(app: FastifyInstance, scripts: CollectionService): void {
  const warnings = new WeakMap<FastifyRequest, SourceProblem[]>()
  const check = async (request: FastifyRequest) => {
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
    warnings.set(request, problems)
  }
  const answer = async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const found = warnings.get(request)
    if (!found || reply.statusCode !== 200 || payload === null || typeof payload !== 'object') return payload
    return { ...payload, warnings: found }
  }
  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = [route.method].flat()
    const saving =
      (methods.includes('POST') && route.url === SCRIPTS) || (methods.includes('PATCH') && route.url === `${SCRIPTS}/:id`)
    if (!saving) return
    // First among the route's own: as when it ran for every request, before the handler's checks.
    route.preHandler = [check, ...[route.preHandler ?? []].flat()]
    route.preSerialization = [...[route.preSerialization ?? []].flat(), answer]
  })
}
