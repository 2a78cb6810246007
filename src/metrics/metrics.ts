import { Registry } from 'prom-client'
import type { QueryOperation } from '../store/store.ts'
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
  /** The Content-Type of `render()`'s text. */
  readonly contentType: string
  /** The Prometheus text exposition of every metric now. */
  render(): Promise<string>
  /** Stops the process sampler (the event loop delay monitor). */
  close(): void
}

export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry()
  const process = processMetrics(registry)
  gauge(registry, { name: 'switchboard_info', help: 'Always 1; the version is a label', labelNames: ['version'] })
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
    contentType: registry.contentType,
    render: () => registry.metrics(),
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

interface DomainSeries {
  readonly name: string
  readonly byTrigger: Map<string, { readonly duration: HistogramSeries; readonly byStatus: Map<string, Series> }>
}

/** Executions by domain (its name), trigger and status, with their durations. */
export class ExecutionMetrics {
  /** Executions running now (a gauge). */
  readonly inFlight: Series
  readonly #domainName: (domainId: string) => string | undefined
  readonly #total: Family<Series>
  readonly #durations: Family<HistogramSeries>
  readonly #byDomain = new Map<string, DomainSeries>()

  constructor(registry: Registry, domainName: (domainId: string) => string | undefined) {
    this.#domainName = domainName
    this.inFlight = gauge(registry, { name: 'switchboard_executions_in_flight', help: 'Executions running now' }).series()
    this.#total = counter(registry, {
      name: 'switchboard_executions_total',
      help: 'Executions recorded, by domain, trigger and final status',
      labelNames: ['domain', 'trigger', 'status'],
    })
    this.#durations = histogram(registry, {
      name: 'switchboard_execution_duration_seconds',
      help: 'How long executions ran, by domain and trigger',
      labelNames: ['domain', 'trigger'],
      buckets: DURATION_BUCKETS,
    })
  }

  /** One execution ended with `status`; `seconds` undefined for one recorded without a run. */
  finished(domainId: string, trigger: string, status: string, seconds: number | undefined): void {
    const name = this.#domainName(domainId) ?? 'unknown'
    let domain = this.#byDomain.get(domainId)
    // A renamed domain counts under its new name from now on.
    if (!domain || domain.name !== name) {
      domain = { name, byTrigger: new Map() }
      this.#byDomain.set(domainId, domain)
    }
    let forTrigger = domain.byTrigger.get(trigger)
    if (!forTrigger) {
      forTrigger = { duration: this.#durations.series(name, trigger), byStatus: new Map() }
      domain.byTrigger.set(trigger, forTrigger)
    }
    let total = forTrigger.byStatus.get(status)
    if (!total) {
      total = this.#total.series(name, trigger, status)
      forTrigger.byStatus.set(status, total)
    }
    total.value++
    if (seconds !== undefined) forTrigger.duration.observe(seconds)
  }
}

/** Jobs of the async queue in each state, at this moment. */
export interface QueueStats {
  /** Stored, waiting for a worker. */
  readonly ready: number
  readonly running: number
  /** Failed once or more, waiting for their next attempt. */
  readonly retrying: number
}

export class QueueMetrics {
  readonly accepted: Series
  readonly completed: Series
  readonly retries: Series
  readonly handedBack: Series
  #source: (() => QueueStats) | undefined

  constructor(registry: Registry) {
    const depth = gauge(registry, {
      name: 'switchboard_queue_depth',
      help: 'Async jobs stored and not finished, by state (ready, running, retrying); their sum is the queue depth',
      labelNames: ['state'],
      collect: () => {
        const stats = this.#source?.() ?? { ready: 0, running: 0, retrying: 0 }
        depth.series('ready').value = stats.ready
        depth.series('running').value = stats.running
        depth.series('retrying').value = stats.retrying
      },
    })
    this.accepted = counter(registry, { name: 'switchboard_queue_accepted_total', help: 'Async jobs stored' }).series()
    this.completed = counter(registry, {
      name: 'switchboard_queue_completed_total',
      help: 'Async jobs done for good: succeeded, or failed their last attempt',
    }).series()
    this.retries = counter(registry, {
      name: 'switchboard_queue_retries_total',
      help: 'Runs of async jobs that failed and were scheduled again',
    }).series()
    this.handedBack = counter(registry, {
      name: 'switchboard_queue_handed_back_total',
      help: 'Async jobs stopped by a shutdown and left stored for the next start',
    }).series()
  }

  /** Where the depth gauges read from. */
  watch(source: () => QueueStats): void {
    this.#source = source
  }
}

/** Close codes counted by name; any other is `other` (clients may choose any of 3000–4999). */
const CLOSE_CODES = new Set([1000, 1001, 1005, 1006, 1008, 1009, 1011, 1013, 4401, 4403, 4404])

export class WsMetrics {
  readonly opened: Series
  readonly framesIn: Series
  readonly framesOut: Series
  readonly #closed: Family<Series>
  readonly #closedByCode = new Map<number, Series>()
  #openNow: (() => number) | undefined

  constructor(registry: Registry) {
    const open = gauge(registry, {
      name: 'switchboard_ws_connections',
      help: 'Websocket connections open now',
      collect: () => {
        open.series().value = this.#openNow?.() ?? 0
      },
    })
    this.opened = counter(registry, {
      name: 'switchboard_ws_connections_opened_total',
      help: 'Websocket connections opened',
    }).series()
    this.#closed = counter(registry, {
      name: 'switchboard_ws_connections_closed_total',
      help: 'Websocket connections closed, by close code (1001: shutdown, 1006: dropped, 1009: frame too large, 1013: slow reader, 44xx: token or channel changed)',
      labelNames: ['code'],
    })
    const frames = counter(registry, {
      name: 'switchboard_ws_frames_total',
      help: 'Websocket frames received (in) and sent (out)',
      labelNames: ['direction'],
    })
    this.framesIn = frames.series('in')
    this.framesOut = frames.series('out')
  }

  closed(code: number): void {
    const known = CLOSE_CODES.has(code) ? code : 0
    let series = this.#closedByCode.get(known)
    if (!series) {
      series = this.#closed.series(known === 0 ? 'other' : String(known))
      this.#closedByCode.set(known, series)
    }
    series.value++
  }

  /** Where the open-connections gauge reads from. */
  watch(openConnections: () => number): void {
    this.#openNow = openConnections
  }
}

/** SPEC §8 event classes. */
export type EventClass = 'modelevents' | 'projectevents' | 'channelevents'
export const EVENT_CLASSES: readonly EventClass[] = ['modelevents', 'projectevents', 'channelevents']

/**
 * Why an event did not reach a subscriber. `no_connection`: no live connection holds a matching
 * subscription (an `eventing` channel's queue group is empty); `slow_client`: the connection's
 * send buffer is full; `expired`: the subscription expired before delivery; `error`: delivery
 * failed. Add a reason here when a new one arises (the set must stay small: it is a label).
 */
export type EventDropReason = 'no_connection' | 'slow_client' | 'expired' | 'error'
const DROP_REASONS: readonly EventDropReason[] = ['no_connection', 'slow_client', 'expired', 'error']

/**
 * Events (SPEC §8). The events module calls these; each is an addition on a series made here in
 * advance, so it may be called per delivery.
 *
 * - `emitted(class)`: once per event, when it is emitted (before routing);
 * - `delivered(class, n)`: `n` deliveries of one event (one per connection that got the frame);
 * - `dropped(class, reason, n)`: `n` deliveries that did not happen, and why.
 */
export class EventMetrics {
  readonly #emitted: Readonly<Record<EventClass, Series>>
  readonly #delivered: Readonly<Record<EventClass, Series>>
  readonly #dropped: Readonly<Record<EventClass, Readonly<Record<EventDropReason, Series>>>>

  constructor(registry: Registry) {
    const emitted = counter(registry, {
      name: 'switchboard_events_emitted_total',
      help: 'Events emitted, by class',
      labelNames: ['class'],
    })
    const delivered = counter(registry, {
      name: 'switchboard_events_delivered_total',
      help: 'Event frames delivered to websocket connections, by class',
      labelNames: ['class'],
    })
    const dropped = counter(registry, {
      name: 'switchboard_events_dropped_total',
      help: 'Event deliveries that did not happen, by class and reason',
      labelNames: ['class', 'reason'],
    })
    const byClass = <T>(make: (eventClass: EventClass) => T) =>
      Object.fromEntries(EVENT_CLASSES.map((eventClass) => [eventClass, make(eventClass)])) as Record<EventClass, T>
    this.#emitted = byClass((eventClass) => emitted.series(eventClass))
    this.#delivered = byClass((eventClass) => delivered.series(eventClass))
    this.#dropped = byClass(
      (eventClass) =>
        Object.fromEntries(DROP_REASONS.map((reason) => [reason, dropped.series(eventClass, reason)])) as Record<
          EventDropReason,
          Series
        >,
    )
  }

  emitted(eventClass: EventClass): void {
    this.#emitted[eventClass].value++
  }

  delivered(eventClass: EventClass, count = 1): void {
    this.#delivered[eventClass].value += count
  }

  dropped(eventClass: EventClass, reason: EventDropReason, count = 1): void {
    this.#dropped[eventClass][reason].value += count
  }
}

/** Why a script host process was replaced. */
export type HostStopCause = 'memory' | 'unresponsive' | 'exited'

/** What the script hosts report (gathered over their IPC channel at each scrape). */
export interface ScriptHostsStats {
  /** One entry per host process alive now. */
  readonly hosts: readonly {
    readonly host: number
    /** Resident memory of the process, bytes (undefined: unknown). */
    readonly memoryBytes: number | undefined
    readonly isolates: number
    readonly heapBytes: number
  }[]
  /** Isolates created, over every host process so far. */
  readonly created: number
  /** Isolates disposed, by reason, over every host process so far. */
  readonly disposals: Readonly<Record<string, number>>
}

export class ScriptMetrics {
  readonly #restarts: Family<Series>
  #source: (() => Promise<ScriptHostsStats>) | undefined

  constructor(registry: Registry) {
    // One scrape asks the hosts once; every family below reads that answer.
    let asked: Promise<ScriptHostsStats | undefined> | undefined
    const stats = () => {
      asked ??= (this.#source?.() ?? Promise.resolve(undefined)).finally(() => {
        setImmediate(() => {
          asked = undefined
        })
      })
      return asked
    }
    const perHost = (name: string, help: string, pick: (host: ScriptHostsStats['hosts'][number]) => number | undefined) => {
      const family: Family<Series> = gauge(registry, {
        name,
        help,
        labelNames: ['host'],
        collect: async () => {
          const now = await stats()
          family.clear()
          for (const host of now?.hosts ?? []) {
            const value = pick(host)
            if (value !== undefined) family.series(String(host.host)).value = value
          }
        },
      })
    }
    const hosts = gauge(registry, {
      name: 'switchboard_script_hosts',
      help: 'Script host processes alive',
      collect: async () => {
        hosts.series().value = (await stats())?.hosts.length ?? 0
      },
    })
    perHost('switchboard_script_host_memory_bytes', 'Resident memory of each script host process', (host) => host.memoryBytes)
    perHost(
      'switchboard_isolates',
      'Warm script isolates in each script host process (besides one spare each)',
      (host) => host.isolates,
    )
    perHost('switchboard_isolate_heap_bytes', 'Heap used by the isolates of each script host process', (host) => host.heapBytes)
    const created = counter(registry, {
      name: 'switchboard_isolates_created_total',
      help: 'Script isolates created',
      collect: async () => {
        created.series().value = (await stats())?.created ?? 0
      },
    })
    const disposals = counter(registry, {
      name: 'switchboard_isolate_disposals_total',
      help: 'Script isolates disposed, by reason (evicted, memory, cpu, timeout, load_failed, shutdown, host_stopped)',
      labelNames: ['reason'],
      collect: async () => {
        for (const [reason, count] of Object.entries((await stats())?.disposals ?? {})) disposals.series(reason).value = count
      },
    })
    this.#restarts = counter(registry, {
      name: 'switchboard_script_host_restarts_total',
      help: 'Script host processes replaced, by cause (memory: over its cap, unresponsive: no heartbeat, exited)',
      labelNames: ['cause'],
    })
  }

  restarted(cause: HostStopCause): void {
    this.#restarts.series(cause).value++
  }

  /** Where the host and isolate metrics come from. */
  watch(source: () => Promise<ScriptHostsStats>): void {
    this.#source = source
  }
}

export class StoreMetrics {
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

export class BusMetrics {
  readonly #durations: Family<HistogramSeries>
  readonly #bySubject = new Map<string, HistogramSeries>()

  constructor(registry: Registry) {
    this.#durations = histogram(registry, {
      name: 'switchboard_bus_delivery_seconds',
      help: 'Time from publishing a bus message to its delivery, by the first token of its subject (ws, changes, …)',
      labelNames: ['subject'],
      buckets: LATENCY_BUCKETS,
    })
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
