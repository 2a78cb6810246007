import type { FastifyInstance, FastifyRequest } from 'fastify'
import { carrierOfHeaders, type TraceSpan, type Tracing } from './tracing.ts'

export interface ServerSpanOptions {
  /** Which requests get a span (default: all of the scope's). */
  readonly traced?: (request: FastifyRequest) => boolean
  /** Adds `url.path`, the path without the query string: for routes whose paths hold no secret. */
  readonly showPath?: boolean
}

/**
 * Server spans of `scope`'s requests, from `onRequest` (before the body is read) to the answer
 * (`onResponse`) or the client's leaving (`onRequestAbort`); a handler adds what it learns to
 * the span the map holds for its request. The parent is the request's `traceparent`, if valid.
 */
export function traceServerRequests(
  scope: FastifyInstance,
  tracing: Tracing,
  options: ServerSpanOptions = {},
): WeakMap<FastifyRequest, TraceSpan> {
  const spans = new WeakMap<FastifyRequest, TraceSpan>()
  const { traced, showPath = false } = options
  scope.addHook('onRequest', async (request) => {
    if (traced && !traced(request)) return
    // The route, not the path, names the span (few names); a request no route took has none.
    const route = request.routeOptions.url
    const question = request.url.indexOf('?')
    spans.set(
      request,
      tracing.start(route === undefined ? request.method : `${request.method} ${route}`, {
        kind: 'server',
        parent: carrierOfHeaders(request.headers),
        attributes: {
          'http.request.method': request.method,
          'http.route': route,
          'url.scheme': request.protocol,
          ...(showPath && { 'url.path': question === -1 ? request.url : request.url.slice(0, question) }),
          'network.protocol.version': request.raw.httpVersion,
          'switchboard.request_id': request.id,
          // The project API called from a script or a websocket frame (InProcessApi), not over the network.
          ...((request.raw as { isLightMyRequest?: unknown }).isLightMyRequest === true && { 'switchboard.in_process': true }),
        },
      }),
    )
  })
  const end = (request: FastifyRequest, status: number | undefined) => {
    const span = spans.get(request)
    if (!span) return
    spans.delete(request)
    if (status === undefined) span.fail('the client left before the answer', 'aborted')
    else {
      span.set({ 'http.response.status_code': status })
      // Server spans: only 5xx are the server's errors (semantic conventions).
      if (status >= 500) span.fail(`HTTP ${status}`, String(status))
    }
    span.end()
  }
  scope.addHook('onResponse', async (request, reply) => end(request, reply.statusCode))
  scope.addHook('onRequestAbort', async (request) => end(request, undefined))
  return spans
}
