import { type MetricObjectWithValues, type MetricValueWithName, Registry } from 'prom-client'
import type { QueryOperation } from '../store/store.ts'
import { DeliveryMetrics } from './delivery-metrics.ts'
import { ErrorMetrics } from './error-metrics.ts'
import { EventMetrics } from './event-metrics.ts'
import {
  counter,
  DURATION_BUCKETS,
  type Family,
  gauge,
  type HistogramSeries,
  histogram,
  LATENCY_BUCKETS,
  type Series,
} from './metric-families.ts'
import { processMetrics } from './process-metrics.ts'
import { QueueMetrics } from './queue-metrics.ts'
import { ScriptMetrics } from './script-metrics.ts'
import { WebhookMetrics } from './webhook-metrics.ts'
import { WsMetrics } from './ws-metrics.ts'

export interface MetricsOptions {
  readonly version: string
  /** A domain's name by its id, for the `domain` label (ids are never labels). Unknown ids count as `unknown`. */
  readonly domainName: (domainId: string) => string | undefined
}

/**
 * Every metric of one app, in its own prom-client `Registry` (no default registry: tests build
 * many apps in one process). Built in the composition root and handed to the parts that count;
 * the names, labels and meanings are listed in docs/operations.md.
 */
export interface Metrics {
  readonly http: HttpMetrics
  readonly executions: ExecutionMetrics
  readonly queue: QueueMetrics
  readonly ws: WsMetrics
  readonly events: EventMetrics
  readonly scripts: ScriptMetrics
  readonly store: StoreMetrics
  readonly bus: BusMetrics
  readonly errors: ErrorMetrics
  readonly webhooks: WebhookMetrics
  readonly deliveries: DeliveryMetrics
  /** The Content-Type of `render()`'s text. */
  readonly contentType: string
  /** The Prometheus text exposition of every metric now. */
  render(): Promise<string>
  /** Every metric now, as values (another worker adds them to its node's, metrics-gather.ts). */
  snapshot(): Promise<MetricObjectWithValues<MetricValueWithName<string>>[]>
  /** Stops the process sampler (the event loop delay monitor). */
  close(): void
}

export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry()
  const process = processMetrics(registry)
  gauge(registry, {
    name: 'switchboard_info',
    help: 'Always 1; the version is a label',
    labelNames: ['version'],
    aggregator: 'max',
  })
    .series(options.version)
    .inc()
  return {
    http: new HttpMetrics(registry),
    executions: new ExecutionMetrics(registry, options.domainName),
    queue: new QueueMetrics(registry),
    ws: new WsMetrics(registry),
    events: new EventMetrics(registry),
    scripts: new ScriptMetrics(registry),
    store: new StoreMetrics(registry),
    bus: new BusMetrics(registry),
    errors: new ErrorMetrics(registry),
    webhooks: new WebhookMetrics(registry, options.domainName),
    deliveries: new DeliveryMetrics(registry, options.domainName),
    contentType: registry.contentType,
    render: () => registry.metrics(),
    snapshot: () => registry.getMetricsAsJSON() as Promise<MetricObjectWithValues<MetricValueWithName<string>>[]>,
    close: () => process.close(),
  }
}

/** Requests by route pattern (never the path: it may hold a token) and status. */
export class HttpMetrics {
  readonly #requests: Family<Series>
  readonly #durations: Family<HistogramSeries>

  constructor(registry: Registry) {
    this.#requests = counter(registry, {
      name: 'switchboard_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status (route "unmatched": no route)',
      labelNames: ['method', 'route', 'status'],
    })
    this.#durations = histogram(registry, {
      name: 'switchboard_http_request_duration_seconds',
      help: 'Time from a request’s arrival to its answer, by method and route pattern',
      labelNames: ['method', 'route'],
      buckets: DURATION_BUCKETS,
    })
  }

  /** The series of one route, by its URL pattern; taken once, when the route is registered. */
  route(pattern: string): RouteMetrics {
    return new RouteMetrics(pattern, this.#requests, this.#durations)
  }
}

export class RouteMetrics {
  readonly #pattern: string
  readonly #requests: Family<Series>
  readonly #durations: Family<HistogramSeries>
  readonly #byMethod = new Map<string, { duration: HistogramSeries; byStatus: Map<number, Series> }>()

  constructor(pattern: string, requests: Family<Series>, durations: Family<HistogramSeries>) {
    this.#pattern = pattern
    this.#requests = requests
    this.#durations = durations
  }

  /** One answered request; `seconds` undefined when its duration is not known. */
  observe(method: string, status: number, seconds: number | undefined): void {
    let forMethod = this.#byMethod.get(method)
    if (!forMethod) {
      forMethod = { duration: this.#durations.series(method, this.#pattern), byStatus: new Map() }
      this.#byMethod.set(method, forMethod)
    }
    let requests = forMethod.byStatus.get(status)
    if (!requests) {
      requests = this.#requests.series(method, this.#pattern, String(status))
      forMethod.byStatus.set(status, requests)
    }
    requests.value++
    if (seconds !== undefined) forMethod.duration.observe(seconds)
  }
}

interface TriggerSeries {
  readonly duration: HistogramSeries
  readonly byStatus: Map<string, Series>
}

/** A channel's series: under its own code, or `other` (shared) past MAX_CHANNEL_LABELS. */
interface ChannelSeries {
  readonly label: string
  readonly byTrigger: Map<string, TriggerSeries>
}

interface DomainSeries {
  readonly name: string
  /** By channel code ('' for none). */
  readonly byChannel: Map<string, ChannelSeries>
}

/**
 * Most distinct channels a process labels executions with; the executions of channels past it
 * count as channel `other`, so a domain that makes channels by the thousand cannot make the
 * scrape grow without bound.
 */
export const MAX_CHANNEL_LABELS = 200

/** Executions by domain (its name), channel (its code), trigger and status, with their durations. */
export class ExecutionMetrics {
  /** Executions running now (a gauge). */
  readonly inFlight: Series
  /** Records dropped because the recorder's buffer was full (its store slow or full). */
  readonly recordsDropped: Series
  /** Batches of records that could not be written (each is tried again). */
  readonly recordWritesFailed: Series
  readonly #recordsBuffered: Family<Series>
  #buffered: (() => number) | undefined
  readonly #domainName: (domainId: string) => string | undefined
  readonly #total: Family<Series>
  readonly #durations: Family<HistogramSeries>
  readonly #byDomain = new Map<string, DomainSeries>()
  /** The channels labelled so far, by domain id and code. */
  readonly #channels = new Set<string>()

  constructor(registry: Registry, domainName: (domainId: string) => string | undefined) {
    this.#domainName = domainName
    this.inFlight = gauge(registry, { name: 'switchboard_executions_in_flight', help: 'Executions running now' }).series()
    this.recordsDropped = counter(registry, {
      name: 'switchboard_execution_records_dropped_total',
      help: 'Execution records dropped because too many waited to be written (the store slow or full)',
    }).series()
    this.recordWritesFailed = counter(registry, {
      name: 'switchboard_execution_record_write_failures_total',
      help: 'Batches of execution records that could not be written (each is tried again)',
    }).series()
    this.#recordsBuffered = gauge(registry, {
      name: 'switchboard_execution_records_buffered',
      help: 'Execution records waiting to be written',
      collect: () => {
        this.#recordsBuffered.series().value = this.#buffered?.() ?? 0
      },
    })
    this.#total = counter(registry, {
      name: 'switchboard_executions_total',
      help: 'Executions recorded, by domain, channel, trigger and final status',
      labelNames: ['domain', 'channel', 'trigger', 'status'],
    })
    this.#durations = histogram(registry, {
      name: 'switchboard_execution_duration_seconds',
      help: 'How long executions ran, by domain, channel and trigger',
      labelNames: ['domain', 'channel', 'trigger'],
      buckets: DURATION_BUCKETS,
    })
  }

  /** Where the number of records waiting to be written comes from. */
  watchRecords(buffered: () => number): void {
    this.#buffered = buffered
  }

  /**
   * One execution ended with `status`; `seconds` undefined for one recorded without a run.
   * `channel`: its channel's code, '' for none (or unknown).
   */
  finished(domainId: string, channel: string, trigger: string, status: string, seconds: number | undefined): void {
    const name = this.#domainName(domainId) ?? 'unknown'
    let domain = this.#byDomain.get(domainId)
    // A renamed domain counts under its new name from now on.
    if (!domain || domain.name !== name) {
      domain = { name, byChannel: new Map() }
      this.#byDomain.set(domainId, domain)
    }
    let forChannel = domain.byChannel.get(channel)
    if (!forChannel) {
      const label = this.#channelLabel(domainId, channel)
      forChannel = domain.byChannel.get(label) ?? { label, byTrigger: new Map() }
      domain.byChannel.set(channel, forChannel)
      domain.byChannel.set(label, forChannel)
    }
    let forTrigger = forChannel.byTrigger.get(trigger)
    if (!forTrigger) {
      forTrigger = { duration: this.#durations.series(name, forChannel.label, trigger), byStatus: new Map() }
      forChannel.byTrigger.set(trigger, forTrigger)
    }
    let total = forTrigger.byStatus.get(status)
    if (!total) {
      total = this.#total.series(name, forChannel.label, trigger, status)
      forTrigger.byStatus.set(status, total)
    }
    total.value++
    if (seconds !== undefined) forTrigger.duration.observe(seconds)
  }

  /** The channel's own code while fewer than MAX_CHANNEL_LABELS are labelled, else `other`. */
  #channelLabel(domainId: string, channel: string): string {
    if (channel === '') return channel
    const key = `${domainId}\u0000${channel}`
    if (this.#channels.has(key)) return channel
    if (this.#channels.size >= MAX_CHANNEL_LABELS) return 'other'
    this.#channels.add(key)
    return channel
  }
}

class StoreMetrics {
  readonly #durations: Family<HistogramSeries>
  readonly #byOperation = new Map<QueryOperation, HistogramSeries>()

  constructor(registry: Registry) {
    this.#durations = histogram(registry, {
      name: 'switchboard_store_query_duration_seconds',
      help: 'Store (SQLite or PostgreSQL) statement latency, by operation',
      labelNames: ['operation'],
      buckets: LATENCY_BUCKETS,
    })
  }

  /** One statement ran (the store's query observer). */
  readonly query = (operation: QueryOperation, seconds: number): void => {
    let series = this.#byOperation.get(operation)
    if (!series) {
      series = this.#durations.series(operation)
      this.#byOperation.set(operation, series)
    }
    series.observe(seconds)
  }
}

/** Subjects whose series are remembered; past that, the label is worked out per message. */
const SUBJECT_CACHE = 1024

class BusMetrics {
  readonly #durations: Family<HistogramSeries>
  readonly #bySubject = new Map<string, HistogramSeries>()
  readonly #malformed: Family<Series>

  constructor(registry: Registry) {
    this.#malformed = counter(registry, {
      name: 'switchboard_bus_malformed_total',
      help: 'Bus messages dropped because they did not fit their topic (a node of another version), by topic',
      labelNames: ['topic'],
    })
    this.#durations = histogram(registry, {
      name: 'switchboard_bus_delivery_seconds',
      help: 'Time from publishing a bus message to its delivery, by the first token of its subject (ws, changes, …)',
      labelNames: ['subject'],
      buckets: LATENCY_BUCKETS,
    })
  }

  /** A message did not fit its topic and was dropped (topics are a fixed set: bus/topic.ts). */
  readonly malformed = (topic: string): void => {
    this.#malformed.series(topic).value++
  }

  /** One message was delivered `seconds` after it was published (the bus's delivery observer). */
  readonly delivered = (subject: string, seconds: number): void => {
    let series = this.#bySubject.get(subject)
    if (!series) {
      // Subjects carry ids (ws.reply.<node>): the label is their first token only.
      const dot = subject.indexOf('.')
      series = this.#durations.series(dot === -1 ? subject : subject.slice(0, dot))
      if (this.#bySubject.size < SUBJECT_CACHE) this.#bySubject.set(subject, series)
    }
    series.observe(seconds)
  }
}
