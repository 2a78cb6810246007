import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { AppError } from '../errors.ts'
import { errorResponses } from './shared-schemas.ts'

const Status = Type.Object({ status: Type.String() })

/** A store or bus that takes longer than this to answer is as good as down. */
const READY_TIMEOUT_MS = 2000

function withTimeout(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
  })
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer))
}

/** `GET /healthz`: the process answers. `GET /readyz`: and its store and bus answer too. */
export function healthRoutes(app: FastifyInstance, ready: () => Promise<void>): void {
  app.get(
    '/healthz',
    { schema: { tags: ['operations'], operationId: 'getLiveness', summary: 'Liveness', response: { 200: Status } } },
    async () => ({
      status: 'ok',
    }),
  )
  app.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        operationId: 'getReadiness',
        summary: 'Readiness: store and bus reachable',
        response: { 200: Status, ...errorResponses(503) },
      },
    },
    async (request) => {
      try {
        await withTimeout(ready(), READY_TIMEOUT_MS)
      } catch (error) {
        request.log.warn({ err: error }, 'not ready')
        throw new AppError('unavailable', 'not ready: the store or the bus does not answer')
      }
      return { status: 'ready' }
    },
  )
}
