import type { Registry } from 'prom-client'
import { EVENT_CLASSES, type EventClass } from '../events/event-names.ts'
import { counter, type Series } from './metric-families.ts'

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
