import type { Bus } from '../bus/bus.ts'
import type { ChangeNotice } from '../collections/change-feed.ts'
import { AppError } from '../errors.ts'
import { newId } from '../ids.ts'
import type { EventMetrics } from '../metrics/event-metrics.ts'
import type { JsonValue } from '../store/store.ts'
import { type BusEvent, EVENT, type EventClass, eventSubject, PROJECT_EVENT_NAME } from './event-names.ts'

export interface EventsOptions {
  readonly bus: Bus
  /** Largest `data` of an event, bytes of JSON. */
  readonly maxEventBytes: number
  /** The domain of changes to global collections (domains, channel types): the master domain. */
  readonly masterDomainId: () => string | undefined
  readonly metrics: EventMetrics
}

/**
 * Where events start (SPEC §8): model changes, `events.emit` of scripts, websocket connections
 * opening and closing. Each event is published once, on the bus, from the node where it happened;
 * `EventDelivery` on every node hands it to the subscribers.
 */
export class Events {
  readonly #options: EventsOptions
  #closed = false

  constructor(options: EventsOptions) {
    this.#options = options
  }

  /** `events.emit(name, data)`: a project event; a bad name or oversized data is refused. */
  emitProject(domainId: string, name: unknown, data: unknown): BusEvent {
    if (typeof name !== 'string' || !PROJECT_EVENT_NAME.test(name)) {
      throw new AppError('bad_request', 'events.emit: the name must be 1-64 letters, digits, _ or -')
    }
    const value = data === undefined ? null : data
    const size = jsonSize(value)
    if (size > this.#options.maxEventBytes) {
      throw new AppError(
        'payload_too_large',
        `events.emit: the data is ${size} bytes of JSON; the limit is ${this.#options.maxEventBytes}`,
      )
    }
    return this.#publish(domainId, 'projectevents', name, value)
  }

  /** A websocket connection opened or closed. */
  emitChannel(domainId: string, name: 'connection_opened' | 'connection_closed', data: Record<string, JsonValue>): void {
    this.#publish(domainId, 'channelevents', name, data)
  }

  /** A committed change, from the change feed of the node that made it (secrets already removed). */
  modelChanged(notice: ChangeNotice): void {
    const domainId = notice.scope ?? this.#options.masterDomainId()
    if (domainId === undefined) return
    const data: Record<string, JsonValue> = {
      collection: notice.collection,
      operation: notice.operation,
      id: notice.id,
      entity: notice.entity,
    }
    const size = jsonSize(notice.entity)
    if (size > this.#options.maxEventBytes) {
      // A huge entity (a long script source) does not travel: subscribers read it by id.
      data.entity = null
      data.entity_omitted = `the entity is ${size} bytes of JSON; events carry at most ${this.#options.maxEventBytes}`
    }
    this.#publish(domainId, 'modelevents', 'data_changed', data, notice.collection)
  }

  /** Stops publishing: connections that close while the server shuts down emit nothing. */
  async close(): Promise<void> {
    this.#closed = true
  }

  #publish(domainId: string, cls: EventClass, name: string, data: unknown, collection?: string): BusEvent {
    const event: BusEvent = { id: newId(), class: cls, name, data, ts: new Date().toISOString() }
    if (this.#closed) return event
    this.#options.bus.publish(EVENT, eventSubject(domainId, cls, name, collection), event)
    this.#options.metrics.emitted(cls)
    return event
  }
}

function jsonSize(value: unknown): number {
  const text = JSON.stringify(value)
  return text === undefined ? 0 : Buffer.byteLength(text)
}
