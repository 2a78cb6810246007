import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { AppError } from '../errors.ts'
import { bearerToken } from '../http/bearer-token.ts'
import { errorResponses } from '../http/shared-schemas.ts'
import { sameSecret } from '../ids.ts'
import type { Metrics } from './metrics.ts'

/**
 * `GET /metrics` (SPEC §11): the Prometheus text format. Open, unless a token is configured
 * (`SWITCHBOARD_METRICS_TOKEN`): then it needs `Authorization: Bearer <token>`, compared in
 * constant time.
 */
export function metricsRoutes(
  app: FastifyInstance,
  metrics: Pick<Metrics, 'contentType'> & { render(): Promise<string> },
  token: string | undefined,
): void {
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['operations'],
        operationId: 'getMetrics',
        summary: 'Prometheus metrics (text exposition format); needs the metrics token when one is configured',
        security: [{ metricsToken: [] }],
        response: {
          200: {
            description: 'Prometheus text format 0.0.4; the metrics are listed in docs/operations.md',
            content: { 'text/plain; version=0.0.4; charset=utf-8': { schema: Type.String() } },
          },
          ...errorResponses(401),
        },
      },
    },
    async (request, reply) => {
      if (token !== undefined) {
        const given = bearerToken(request.headers.authorization)
        if (given === undefined || !sameSecret(given, token)) {
          reply.header('www-authenticate', 'Bearer')
          throw new AppError(
            'unauthorized',
            'the metrics need the metrics token: Authorization: Bearer <SWITCHBOARD_METRICS_TOKEN>',
          )
        }
      }
      const text = await metrics.render()
      return reply.type(metrics.contentType).send(text)
    },
  )
}
