import type { Registry } from 'prom-client'
import { counter, type Family, gauge, type Series } from './metric-families.ts'

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
