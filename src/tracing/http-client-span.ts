import type { SpanAttributes, TraceCarrier, TraceSpan, Tracing } from './tracing.ts'

/**
 * The client span of one outbound HTTP call — a script's `http.request`, a delivery's attempt —
 * and the headers that carry it to the server called (W3C Trace Context).
 */
export interface HttpClientSpan {
  readonly span: TraceSpan
  /** Adds `traceparent` (and `tracestate`) naming this span to `headers` (lower-case names), unless the caller set its own. */
  inject(headers: Record<string, string>): void
  /** The call was answered: ends the span, an error from 400 on (semantic conventions for clients). */
  answered(status: number): void
  /** The call failed without an answer (refused, timed out, cut): ends the span as an error. */
  failed(reason: string, type: string): void
}

/**
 * Starts the span of a call to `url`: named by its method (the semantic conventions' name when no
 * route template is known), with `http.request.method`, `url.full` (without query string and
 * credentials: a query may hold secrets, and the logs leave it out too), `server.address` and
 * `server.port`.
 */
export function startHttpClientSpan(
  tracing: Tracing,
  parent: TraceCarrier | undefined,
  method: string,
  url: URL,
  attributes?: SpanAttributes,
): HttpClientSpan {
  const span = tracing.start(method, {
    kind: 'client',
    parent,
    attributes: {
      'http.request.method': method,
      'url.full': `${url.origin}${url.pathname}`,
      'server.address': url.hostname,
      'server.port': url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port),
      ...attributes,
    },
  })
  return {
    span,
    inject(headers) {
      if (headers.traceparent !== undefined) return
      headers.traceparent = span.traceparent
      const state = span.tracestate
      if (state !== undefined && state !== '' && headers.tracestate === undefined) headers.tracestate = state
    },
    answered(status) {
      span.set({ 'http.response.status_code': status })
      if (status >= 400) span.fail(`HTTP ${status}`, String(status))
      span.end()
    },
    failed(reason, type) {
      span.fail(reason, type)
      span.end()
    },
  }
}
