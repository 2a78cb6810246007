import type { Metric as PromMetric, Registry } from 'prom-client'

/**
 * One time series of a counter or a gauge: a number the instrumented code changes in place.
 * Hot paths look their series up once (per route, per connection, per domain) and keep it, so
 * counting is an addition: no label hashing, no allocation. Measured on this machine: 5 ns per
 * increment, against 460–600 ns for prom-client's `counter.inc(labels)` (which hashes and checks
 * the labels and returns an object on every call) and 760–830 ns for `histogram.observe`.
 */
export class Series {
  value = 0

  inc(by = 1): void {
    this.value += by
  }
}

/** One time series of a histogram: counts per bucket (not cumulative; the last one is +Inf), sum and count. */
export class HistogramSeries {
  readonly #bounds: Float64Array
  readonly counts: Float64Array
  sum = 0
  count = 0

  constructor(bounds: Float64Array) {
    this.#bounds = bounds
    this.counts = new Float64Array(bounds.length + 1)
  }

  observe(value: number): void {
    const bounds = this.#bounds
    let i = 0
    while (i < bounds.length && value > (bounds[i] as number)) i++
    this.counts[i] = (this.counts[i] as number) + 1
    this.sum += value
    this.count++
  }
}

type MetricType = 'counter' | 'gauge' | 'histogram'

interface Entry<S> {
  readonly labels: Readonly<Record<string, string>>
  readonly series: S
}

/** What prom-client's registry reads from a metric at each scrape. */
interface MetricValues {
  readonly name: string
  readonly help: string
  readonly type: MetricType
  readonly aggregator: Aggregator
  readonly values: { value: number; labels: Record<string, string | number>; metricName?: string }[]
}

/**
 * How the workers' values of a series make the node's (prom-client's AggregatorRegistry): added
 * up (counts, bytes), or the largest, or the smallest (a start time).
 */
export type Aggregator = 'sum' | 'max' | 'min'

export interface FamilyOptions {
  readonly name: string
  readonly help: string
  /** Label names, in the order `series(...)` takes their values. Default: none. */
  readonly labelNames?: readonly string[]
  /** Runs before each scrape: sets sampled values (gauges read from their source). */
  readonly collect?: () => void | Promise<void>
  /** How a node adds up its workers' values. Default: `sum`. */
  readonly aggregator?: Aggregator
}

/**
 * A metric family: every series of one metric name, by label values. It renders itself through
 * prom-client's `Registry`, which reads `name`, `help`, `type` and `get()` of what it holds.
 * Label values must come from bounded sets (routes, triggers, domain names): never ids, tokens
 * or paths.
 */
export class Family<S extends Series | HistogramSeries> {
  readonly name: string
  readonly help: string
  readonly type: MetricType
  readonly #labelNames: readonly string[]
  readonly #make: () => S
  readonly #collect: (() => void | Promise<void>) | undefined
  readonly #aggregator: Aggregator
  readonly #bounds: Float64Array | undefined
  readonly #entries = new Map<string, Entry<S>>()

  constructor(type: MetricType, options: FamilyOptions, make: () => S, bounds?: Float64Array) {
    this.name = options.name
    this.help = options.help
    this.type = type
    this.#labelNames = options.labelNames ?? []
    this.#make = make
    this.#collect = options.collect
    this.#aggregator = options.aggregator ?? 'sum'
    this.#bounds = bounds
  }

  /** The series for these label values (in `labelNames` order), made on first use. Keep it: the lookup joins strings. */
  series(...values: string[]): S {
    if (values.length !== this.#labelNames.length) {
      throw new Error(`${this.name} takes ${this.#labelNames.length} label values, got ${values.length}`)
    }
    const key = values.join('\u0000')
    let entry = this.#entries.get(key)
    if (!entry) {
      const labels: Record<string, string> = {}
      this.#labelNames.forEach((name, i) => {
        labels[name] = values[i] as string
      })
      entry = { labels, series: this.#make() }
      this.#entries.set(key, entry)
    }
    return entry.series
  }

  /** Forgets every series (a sampled gauge whose label sets come and go refills itself in `collect`). */
  clear(): void {
    this.#entries.clear()
  }

  /** prom-client's metric interface: the values at this moment. */
  async get(): Promise<MetricValues> {
    await this.#collect?.()
    const values: MetricValues['values'] = []
    for (const { labels, series } of this.#entries.values()) {
      if (series instanceof Series) {
        values.push({ value: series.value, labels })
        continue
      }
      const bounds = this.#bounds as Float64Array
      let cumulative = 0
      for (let i = 0; i <= bounds.length; i++) {
        cumulative += series.counts[i] as number
        const le = i < bounds.length ? (bounds[i] as number) : '+Inf'
        values.push({ value: cumulative, labels: { ...labels, le }, metricName: `${this.name}_bucket` })
      }
      values.push({ value: series.sum, labels, metricName: `${this.name}_sum` })
      values.push({ value: series.count, labels, metricName: `${this.name}_count` })
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.#aggregator, values }
  }
}

function register<F>(registry: Registry, family: F): F {
  // The registry renders anything with prom-client's metric shape (name, help, type, get()).
  registry.registerMetric(family as unknown as PromMetric)
  return family
}

export function counter(registry: Registry, options: FamilyOptions): Family<Series> {
  return register(registry, new Family('counter', options, () => new Series()))
}

export function gauge(registry: Registry, options: FamilyOptions): Family<Series> {
  return register(registry, new Family('gauge', options, () => new Series()))
}

/** `buckets`: upper bounds in ascending order (the +Inf bucket is added). */
export function histogram(
  registry: Registry,
  options: FamilyOptions & { readonly buckets: readonly number[] },
): Family<HistogramSeries> {
  const bounds = Float64Array.from(options.buckets)
  for (let i = 1; i < bounds.length; i++) {
    if ((bounds[i] as number) <= (bounds[i - 1] as number)) throw new Error(`${options.name}: buckets must ascend`)
  }
  return register(registry, new Family('histogram', options, () => new HistogramSeries(bounds), bounds))
}

/** Durations from a millisecond to a minute (the longest script timeout), seconds. */
export const DURATION_BUCKETS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
]

/** Short internal latencies (store queries, bus hops), from 50 µs to 2.5 s, seconds. */
export const LATENCY_BUCKETS: readonly number[] = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5,
]
