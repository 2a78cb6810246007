import type { Registry } from 'prom-client'
import { counter, gauge, type Series } from './metric-families.ts'

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
