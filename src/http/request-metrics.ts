import type { FastifyInstance, onResponseHookHandler } from 'fastify'
import type { HttpMetrics } from '../metrics/metrics.ts'

/**
 * Counts every answered request by its route pattern (`/exec/*`, `/rest/v1/…/:id`; never the
 * path, which may hold a token) and status, with its duration. The hook is attached to each
 * route at registration with that route's series, so a request pays an addition and a bucket
 * search, and no label lookup. Register before the routes.
 */
export function installRequestMetrics(app: FastifyInstance, metrics: HttpMetrics): void {
  app.addHook('onRoute', (route) => {
    const series = metrics.route(route.url ?? route.path)
    const observe: onResponseHookHandler = (request, reply, done) => {
      series.observe(request.method, reply.statusCode, reply.elapsedTime / 1000)
      done()
    }
    const existing = route.onResponse
    route.onResponse = existing === undefined ? [observe] : [...(Array.isArray(existing) ? existing : [existing]), observe]
  })
}
