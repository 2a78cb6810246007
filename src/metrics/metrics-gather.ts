import { Type } from '@sinclair/typebox'
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValueWithName } from 'prom-client'
import type { Bus, BusSubscription } from '../bus/bus.ts'
import { topic } from '../bus/topic.ts'
import type { Metrics } from './metrics.ts'

type Snapshot = MetricObjectWithValues<MetricValueWithName<string>>[]

const ASK = topic('metrics.ask', Type.Object({ from: Type.String(), ask: Type.String() }))
/** prom-client's JSON form of a registry, checked as far as the aggregation reads it. */
const ANSWER = topic(
  'metrics.answer',
  Type.Object({
    ask: Type.String(),
    snapshot: Type.Array(
      Type.Unsafe<Snapshot[number]>(
        Type.Object({ name: Type.String(), help: Type.String(), type: Type.String(), values: Type.Array(Type.Unknown()) }),
      ),
    ),
  }),
)

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
  /** This worker could not read its own metrics for another's scrape (it is left out of it). */
  readonly onError: (error: unknown) => void
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
      bus.subscribe(ASK, `metrics.ask.${scope}`, ({ from, ask }) => {
        if (from === node) return
        options.metrics.snapshot().then(
          (snapshot) => bus.publish(ANSWER, `metrics.answer.${from}`, { ask, snapshot }),
          // A worker that cannot read its own metrics is left out of that scrape; the log says why.
          options.onError,
        )
      }),
      bus.subscribe(ANSWER, `metrics.answer.${node}`, ({ ask, snapshot }) => {
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
        bus.publish(ASK, `metrics.ask.${scope}`, { from: node, ask })
      })
      this.#waiting.delete(ask)
    }
    return AggregatorRegistry.aggregate(snapshots).metrics()
  }

  close(): void {
    for (const subscription of this.#subscriptions) subscription.unsubscribe()
  }
}
