import type { Registry } from 'prom-client'
import { counter, DURATION_BUCKETS, type Family, type HistogramSeries, histogram, type Series } from './metric-families.ts'

/** What came of a delivery attempt: `succeeded` (2xx), `retried` (failed, another attempt is due), `failed` (the last one failed). */
export type DeliveryOutcome = 'succeeded' | 'retried' | 'failed'

/**
 * Outbound deliveries (docs/deliveries.md), by domain (its name) and channel (its code):
 * attempts by outcome, and how long each attempt took.
 */
export class DeliveryMetrics {
  readonly #domainName: (domainId: string) => string | undefined
  readonly #attempts: Family<Series>
  readonly #durations: Family<HistogramSeries>

  constructor(registry: Registry, domainName: (domainId: string) => string | undefined) {
    this.#domainName = domainName
    this.#attempts = counter(registry, {
      name: 'switchboard_delivery_attempts_total',
      help: 'Delivery attempts, by domain, channel and outcome (succeeded, retried, failed: the last attempt failed)',
      labelNames: ['domain', 'channel', 'outcome'],
    })
    this.#durations = histogram(registry, {
      name: 'switchboard_delivery_attempt_duration_seconds',
      help: 'How long delivery attempts took, from the request to the answer or the failure, by domain and channel',
      labelNames: ['domain', 'channel'],
      buckets: DURATION_BUCKETS,
    })
  }

  attempted(domainId: string, channelCode: string, outcome: DeliveryOutcome, seconds: number): void {
    const domain = this.#domainName(domainId) ?? 'unknown'
    this.#attempts.series(domain, channelCode, outcome).value++
    this.#durations.series(domain, channelCode).observe(seconds)
  }
}
