import {
  type Context,
  defaultTextMapGetter,
  isSpanContextValid,
  type Link,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api'
import { type ExportResult, ExportResultCode, W3CTraceContextPropagator } from '@opentelemetry/core'
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { OTLPTraceExporter as ProtobufTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto'
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources'
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type ReadableSpan,
  type Sampler,
  type SpanExporter,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace'
import type { TracingSettings } from '../config.ts'
import { VERSION } from '../version.ts'
import type { SpanAttributes, SpanOptions, TraceCarrier, TraceSpan, Tracing } from './tracing.ts'

export interface OtelTracingOptions {
  /** What this process is, in the resource (`switchboard.process.role`). */
  readonly role: 'worker' | 'script-host'
  /** `service.instance.id`: the worker's node id; default a random UUID (the SDK's). */
  readonly instanceId?: string
  /** A batch of spans could not be sent (the collector is down or refused it): told once per batch. */
  readonly onExportError: (error: unknown) => void
  /**
   * How long `close()` waits for the last spans to be sent, ms: a collector that does not answer
   * must not hold a shutdown (the exporter retries for up to its timeout). Spans still unsent
   * then are dropped, and `onExportError` says so.
   */
  readonly closeWaitMs: number
}

const KINDS = {
  server: SpanKind.SERVER,
  client: SpanKind.CLIENT,
  internal: SpanKind.INTERNAL,
  producer: SpanKind.PRODUCER,
  consumer: SpanKind.CONSUMER,
} as const

const propagator = new W3CTraceContextPropagator()

/**
 * Tracing with the OpenTelemetry SDK: one TracerProvider per process (each worker and each
 * script host exports its own spans), a batch span processor and an OTLP/HTTP exporter
 * (protobuf or JSON). Nothing is registered globally: no context manager, no global provider,
 * no instrumentation patches a module. Spans are made where our code knows what happens
 * (tracing.ts).
 */
export class OtelTracing implements Tracing {
  readonly #provider: TracerProvider
  readonly #tracer: Tracer
  readonly #options: OtelTracingOptions
  #closed: Promise<void> | undefined

  constructor(settings: TracingSettings, options: OtelTracingOptions) {
    this.#options = options
    const exporter = new ReportingExporter(
      settings.protocol === 'http/json'
        ? new JsonTraceExporter({ url: settings.url })
        : new ProtobufTraceExporter({ url: settings.url }),
      options.onExportError,
    )
    const resource = defaultResource()
      .merge(
        resourceFromAttributes({
          'service.name': 'switchboard',
          'service.version': VERSION,
          'process.pid': process.pid,
          'switchboard.process.role': options.role,
          ...(options.instanceId !== undefined && { 'service.instance.id': options.instanceId }),
        }),
      )
      // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over the defaults above.
      .merge(detectResources({ detectors: [envDetector] }))
    this.#provider = new TracerProvider({
      resource,
      sampler: sampler(settings),
      spanProcessors: [new BatchSpanProcessor({ exporter, ...settings.batch })],
    })
    this.#tracer = this.#provider.getTracer('switchboard', VERSION)
  }

  start(name: string, options: SpanOptions): TraceSpan {
    const span = this.#tracer.startSpan(
      name,
      // The SDK drops undefined attribute values itself.
      {
        kind: KINDS[options.kind],
        ...(options.attributes && { attributes: options.attributes }),
        ...(options.links && { links: linksTo(options.links) }),
      },
      parentContext(options.parent),
    )
    return new OtelSpan(span)
  }

  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      const { onExportError, closeWaitMs } = this.#options
      const timer = setTimeout(() => {
        onExportError(new Error(`spans not sent within ${closeWaitMs} ms of the shutdown were dropped`))
        resolve()
      }, closeWaitMs)
      this.#provider.shutdown().then(
        () => {
          clearTimeout(timer)
          resolve()
        },
        (error: unknown) => {
          clearTimeout(timer)
          onExportError(error)
          resolve()
        },
      )
    })
    return this.#closed
  }
}

/** A span of the SDK behind TraceSpan. */
class OtelSpan implements TraceSpan {
  readonly #span: Span
  #context: Context | undefined

  constructor(span: Span) {
    this.#span = span
  }

  get traceId(): string {
    return this.#span.spanContext().traceId
  }

  get traceparent(): string {
    const { traceId, spanId, traceFlags } = this.#span.spanContext()
    return `00-${traceId}-${spanId}-${(traceFlags & 0xff).toString(16).padStart(2, '0')}`
  }

  get tracestate(): string | undefined {
    return this.#span.spanContext().traceState?.serialize() || undefined
  }

  /** The context whose active span is this one: a child's parent in this process. */
  get context(): Context {
    this.#context ??= trace.setSpan(ROOT_CONTEXT, this.#span)
    return this.#context
  }

  set(attributes: SpanAttributes): void {
    this.#span.setAttributes(attributes)
  }

  fail(message: string, type: string): void {
    this.#span.setAttribute('error.type', type)
    this.#span.recordException({ name: type, message })
    this.#span.setStatus({ code: SpanStatusCode.ERROR, message })
  }

  end(): void {
    this.#span.end()
  }
}

/** A span of this process is its children's parent as it is; any other context is read as W3C headers. */
function parentContext(parent: TraceCarrier | undefined): Context {
  if (parent === undefined) return ROOT_CONTEXT
  if (parent instanceof OtelSpan) return parent.context
  return propagator.extract(ROOT_CONTEXT, parent, defaultTextMapGetter)
}

/** Links to the valid ones of `carriers`. */
function linksTo(carriers: readonly TraceCarrier[]): Link[] {
  const links: Link[] = []
  for (const carrier of carriers) {
    const context = trace.getSpanContext(parentContext(carrier))
    if (context && isSpanContextValid(context)) links.push({ context })
  }
  return links
}

function sampler(settings: TracingSettings): Sampler {
  const ratio = () => new TraceIdRatioBasedSampler(settings.samplerRatio)
  switch (settings.sampler) {
    case 'always_on':
      return new AlwaysOnSampler()
    case 'always_off':
      return new AlwaysOffSampler()
    case 'traceidratio':
      return ratio()
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() })
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() })
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio() })
  }
}

/**
 * The OTLP exporter, with its failures told: the SDK hands them to its diagnostic logger, which
 * says nothing unless one is registered globally.
 */
class ReportingExporter implements SpanExporter {
  readonly #inner: SpanExporter
  readonly #onError: (error: unknown) => void

  constructor(inner: SpanExporter, onError: (error: unknown) => void) {
    this.#inner = inner
    this.#onError = onError
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.#inner.export(spans, (result) => {
      if (result.code !== ExportResultCode.SUCCESS) {
        this.#onError(result.error ?? new Error(`${spans.length} spans could not be exported`))
      }
      done(result)
    })
  }

  shutdown(): Promise<void> {
    return this.#inner.shutdown()
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush?.() ?? Promise.resolve()
  }
}
