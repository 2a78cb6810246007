import type { Registry } from 'prom-client'
import { counter, type Family, type Series } from './metric-families.ts'

/**
 * What a channel's webhook guarantees refused, by domain (its name) and channel (its code: both
 * are set by admins, so they stay few; ids are never labels):
 * - `refused(…, reason)`: a webhook refused for its signature (`missing`, `mismatch`, `timestamp`).
 */
export class WebhookMetrics {
  readonly #domainName: (domainId: string) => string | undefined
  readonly #refusals: Family<Series>

  constructor(registry: Registry, domainName: (domainId: string) => string | undefined) {
    this.#domainName = domainName
    this.#refusals = counter(registry, {
      name: 'switchboard_webhook_signature_refusals_total',
      help: 'Webhooks refused because of their signature, by domain, channel and reason (missing, mismatch, timestamp)',
      labelNames: ['domain', 'channel', 'reason'],
    })
  }

  refused(domainId: string, channelCode: string, reason: string): void {
    this.#refusals.series(this.#domainName(domainId) ?? 'unknown', channelCode, reason).value++
  }
}
