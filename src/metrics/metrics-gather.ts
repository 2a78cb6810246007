import { AggregatorRegistry, type MetricObjectWithValues, type MetricValueWithName } from 'prom-client'
import type { Bus, BusSubscription } from '../bus/bus.ts'
import type { JsonValue } from '../store/store.ts'
import type { Metrics } from './metrics.ts'

type Snapshot = MetricObjectWithValues<MetricValueWithName<string>>[]

export interface MetricsGatherOptions {
  readonly bus: Bus
  readonly metrics: Metrics
  /** This worker's id on the bus. */
  readonly node: string
  /** Names the node the workers belong to (its epoch): in cluster mode the bus spans many nodes. */
  readonly scope: string
  /** Workers of the node: a scrape stops waiting once it has heard this many. */
  readonly workers: number
  /** How long a scrape waits for the other workers, ms. */
  readonly waitMs: number
}

/**
 * `/metrics` of a node with several workers (SPEC §13): a scrape reaches one worker, which asks
 * the others of its node over the bus for their values and adds them up (each metric's
 * aggregator: sum, max or min), so Prometheus sees the node whichever worker it reached. A worker
 * that does not answer in time is left out of that scrape.
 */
export class MetricsGather {
  readonly #options: MetricsGatherOptions
  readonly #subscriptions: BusSubscription[]
  readonly #waiting = new Map<string, { snapshots: Snapshot[]; heard: () => void }>()
  #nextAsk = 0

  constructor(options: MetricsGatherOptions) {
    this.#options = options
    const { bus, scope, node } = options
    this.#subscriptions = [
      bus.subscribe(`metrics.ask.${scope}`, (message) => {
        const { from, ask } = message as { from: string; ask: string }
        if (from === node) return
        options.metrics.snapshot().then(
          (snapshot) => bus.publish(`metrics.answer.${from}`, { ask, snapshot } as unknown as JsonValue),
          // A worker that cannot read its own metrics is left out of that scrape.
          () => {},
        )
      }),
      bus.subscribe(`metrics.answer.${node}`, (message) => {
        const { ask, snapshot } = message as unknown as { ask: string; snapshot: Snapshot }
        const waiting = this.#waiting.get(ask)
        if (!waiting) return
        waiting.snapshots.push(snapshot)
        waiting.heard()
      }),
    ]
  }

  /** The node's metrics: this worker's and those of the others that answered in time. */
  async render(): Promise<string> {
    const { bus, metrics, scope, node, workers, waitMs } = this.#options
    const ask = `${node}.${this.#nextAsk++}`
    const snapshots: Snapshot[] = [await metrics.snapshot()]
    if (workers > 1) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs)
        this.#waiting.set(ask, {
          snapshots,
          heard: () => {
            if (snapshots.length < workers) return
            clearTimeout(timer)
            resolve()
          },
        })
        bus.publish(`metrics.ask.${scope}`, { from: node, ask })
      })
      this.#waiting.delete(ask)
    }
    return AggregatorRegistry.aggregate(snapshots).metrics()
  }

  close(): void {
    for (const subscription of this.#subscriptions) subscription.unsubscribe()
  }
}
