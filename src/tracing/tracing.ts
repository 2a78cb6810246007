import type { TracingSettings } from '../config.ts'
import type { OtelTracingOptions } from './otel-tracing.ts'

/**
 * Traces (OpenTelemetry, docs/operations.md#tracing): the contract the code that makes spans
 * sees. Tracing is off unless an OTLP endpoint is configured; then the callers hold no `Tracing`
 * (`undefined`), and nothing of the SDK is even loaded: `otel-tracing.ts`, the one
 * implementation, is imported dynamically by the processes that trace (workers, script hosts).
 * A hot path with tracing off pays one test for `undefined`.
 *
 * Spans are passed explicitly (a parent in the call's options, a run's span in its
 * `ExecutionScope`), never through an async context manager: the code knows its parents, and
 * AsyncLocalStorage would cost every await of every request, traced or not.
 */
export interface Tracing {
  /** Starts a span; it is exported once ended. */
  start(name: string, options: SpanOptions): TraceSpan
  /** Sends the spans ended so far, then stops: spans started later are not exported. */
  close(): Promise<void>
}

/**
 * A span's W3C trace context, as its `traceparent` and `tracestate` header values: how a span
 * crosses processes (a script host), time (a queued job, a delivery) and the network. Plain data
 * when stored or sent (`carried`); a TraceSpan is one too.
 */
export interface TraceCarrier {
  readonly traceparent: string
  readonly tracestate?: string | undefined
}

/** OpenTelemetry's span kinds. */
type SpanKind = 'server' | 'client' | 'internal' | 'producer' | 'consumer'

/** Undefined values are left out. Attribute names follow OpenTelemetry's semantic conventions, ours under `switchboard.`. */
export type SpanAttributes = Readonly<Record<string, string | number | boolean | undefined>>

export interface SpanOptions {
  readonly kind: SpanKind
  /**
   * The new span's parent: a span of this process, or any other by its trace context (an inbound
   * request's headers, a job's stored context, a script host's run). Absent, or a `traceparent`
   * that is not valid: the span starts a trace of its own. The sampler (OTEL_TRACES_SAMPLER)
   * follows the parent's sampled flag by default.
   */
  readonly parent?: TraceCarrier | undefined
  /**
   * Spans this one follows from without being their child (OpenTelemetry links): a websocket
   * frame's span links the connection's upgrade request. Invalid contexts are left out.
   */
  readonly links?: readonly TraceCarrier[] | undefined
  readonly attributes?: SpanAttributes
}

/** A span that was started. Its own trace context (`traceparent`, `tracestate`) is its children's parent elsewhere. */
export interface TraceSpan extends TraceCarrier {
  /** 32 lower-case hex digits; the same for every span of the trace. */
  readonly traceId: string
  set(attributes: SpanAttributes): void
  /**
   * The operation failed: status ERROR with `message`, an `exception` event with `message`
   * and `type`, and the attribute `error.type` (semantic conventions: a short, low-cardinality
   * reason such as `timeout` or an HTTP status).
   */
  fail(message: string, type: string): void
  /** Ends it (once; later calls do nothing). */
  end(): void
}

/** Loads the OpenTelemetry SDK (only now) and starts this process's tracing. */
export async function openTracing(settings: TracingSettings, options: OtelTracingOptions): Promise<Tracing> {
  const { OtelTracing } = await import('./otel-tracing.ts')
  return new OtelTracing(settings, options)
}

/** A span's trace context as plain data: to keep with a job or a delivery, or to send to another process. */
export function carried(span: TraceCarrier): TraceCarrier {
  const { traceparent, tracestate } = span
  return tracestate === undefined || tracestate === '' ? { traceparent } : { traceparent, tracestate }
}

/** The trace context an inbound request's headers name, if any (checked by the tracer: an invalid one starts a trace). */
export function carrierOfHeaders(headers: Readonly<Record<string, string | string[] | undefined>>): TraceCarrier | undefined {
  const traceparent = headers.traceparent
  if (typeof traceparent !== 'string') return undefined
  const tracestate = headers.tracestate
  return { traceparent, tracestate: Array.isArray(tracestate) ? tracestate.join(',') : tracestate }
}

/** The trace id of a version-00 `traceparent` (`00-<trace id>-<span id>-<flags>`), or undefined. */
export function traceIdOf(carrier: TraceCarrier | undefined): string | undefined {
  const found = carrier && /^00-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(carrier.traceparent)
  return found ? found[1] : undefined
}
