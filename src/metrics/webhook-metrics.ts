import type { Registry } from 'prom-client'
import { counter, type Family, type Series } from './metric-families.ts'

/**
 * What a channel's webhook guarantees refused or absorbed, by domain (its name) and channel (its
 * code: both are set by admins, so they stay few; ids are never labels):
 * - `refused(…, reason)`: a webhook refused for its signature (`missing`, `mismatch`, `timestamp`);
 * - `duplicate(…)`: a webhook that repeated one seen within `opts.dedup`'s window and did not run again.
 */
export class WebhookMetrics {
  readonly #domainName: (domainId: string) => string | undefined
  readonly #refusals: Family<Series>
  readonly #duplicates: Family<Series>

  constructor(registry: Registry, domainName: (domainId: string) => string | undefined) {
    this.#domainName = domainName
    this.#refusals = counter(registry, {
      name: 'switchboard_webhook_signature_refusals_total',
      help: 'Webhooks refused because of their signature, by domain, channel and reason (missing, mismatch, timestamp)',
      labelNames: ['domain', 'channel', 'reason'],
    })
    this.#duplicates = counter(registry, {
      name: 'switchboard_webhook_duplicates_total',
      help: 'Webhooks answered as duplicates of an earlier one (opts.dedup), by domain and channel',
      labelNames: ['domain', 'channel'],
    })
  }

  refused(domainId: string, channelCode: string, reason: string): void {
    this.#refusals.series(this.#domainName(domainId) ?? 'unknown', channelCode, reason).value++
  }

  duplicate(domainId: string, channelCode: string): void {
    this.#duplicates.series(this.#domainName(domainId) ?? 'unknown', channelCode).value++
  }
}
