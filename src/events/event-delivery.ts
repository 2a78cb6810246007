import type { Bus, BusSubscription } from '../bus/bus.ts'
import { AppError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { EventMetrics } from '../metrics/event-metrics.ts'
import { type BusEvent, domainSubject, EVENT, patternMatches, patternSubject } from './event-names.ts'
import { type ObjectFilter, objectsMatch, type SubscribeRequest } from './subscription.ts'

/** What delivery needs of a websocket connection (`S` is one). */
export interface EventSink {
  readonly id: string
  readonly domainId: string
  readonly channelId: string
  readonly channel: { readonly type: string }
  /** Bytes sent but not yet taken by the network. */
  readonly bufferedBytes: number
  /** False once the connection is closing: it takes no more events. */
  readonly open: boolean
  sendFrame(frame: string): void
}

export interface EventDeliveryOptions<S extends EventSink> {
  readonly bus: Bus
  /** Subscriptions one connection may hold. */
  readonly maxSubscriptions: number
  /** Bytes waiting to be sent to a connection past which events to it are dropped (and counted). */
  readonly maxBacklogBytes: number
  /** Whether the connection's channel may see changes of `collection` (its `opts.userid` may read it). */
  readonly mayRead: (connection: S, collection: string) => boolean
  readonly logger: Logger
  readonly metrics: EventMetrics
  /** Expired subscriptions are removed this often, ms. */
  readonly sweepMs?: number
}

interface ActiveSubscription {
  readonly id: string | number
  readonly patterns: SubscribeRequest['patterns']
  readonly objects: ObjectFilter | null
  readonly expiresAt: number
}

/** One connection's subscriptions. */
interface Subscriber<S extends EventSink> {
  readonly connection: S
  /** Delivery kind, fixed by the channel type when the first subscription was made. */
  readonly eventing: boolean
  /** By `typeof id` and id, so `1` and `"1"` are two subscriptions. */
  readonly subscriptions: Map<string, ActiveSubscription>
  dropped: number
  lastDropLog: number
}

/** The bus subscription of a domain's ordinary (non-eventing) subscribers on this node. */
interface DomainListener<S extends EventSink> {
  readonly bus: BusSubscription
  readonly subscribers: Set<Subscriber<S>>
}

/** The bus subscriptions of one eventing channel's subscribers on this node: a queue group. */
interface ChannelListener<S extends EventSink> {
  readonly subjects: Map<string, BusSubscription>
  readonly subscribers: Set<Subscriber<S>>
  turn: number
}

const DROP_LOG_EVERY_MS = 10_000

/**
 * Hands events to the websocket subscribers of this node (SPEC §8).
 *
 * - Ordinary channels: the node listens to every event of a domain where it has subscribers
 *   (one bus subscription per domain, so an event arrives once) and gives it to each connection
 *   with a matching subscription once, listing that connection's matching subscription ids.
 * - `eventing` channels: each event goes to **one** connection of the channel. Every node with
 *   subscribers of channel C listens in the queue group `evch.C` to the subjects their
 *   subscriptions need; the bus hands each event to one member of the group, cluster-wide, and
 *   that node picks one of its matching connections. No coordinator, and at most once per
 *   channel on one node or many (docs/events.md).
 */
export class EventDelivery<S extends EventSink> {
  readonly #options: EventDeliveryOptions<S>
  readonly #subscribers = new Map<S, Subscriber<S>>()
  readonly #domains = new Map<string, DomainListener<S>>()
  readonly #channels = new Map<string, ChannelListener<S>>()
  readonly #sweeper: NodeJS.Timeout

  constructor(options: EventDeliveryOptions<S>) {
    this.#options = options
    this.#sweeper = setInterval(() => this.#sweep(), options.sweepMs ?? 1000)
    this.#sweeper.unref()
  }

  /** Adds, renews (the same id) or, with `expires: 0`, removes a subscription. */
  subscribe(connection: S, request: SubscribeRequest): { id: string | number; expires: number } {
    const key = `${typeof request.id}:${request.id}`
    let subscriber = this.#subscribers.get(connection)
    if (request.expires === 0) {
      if (subscriber?.subscriptions.delete(key)) this.#refresh(subscriber)
      return { id: request.id, expires: 0 }
    }
    if (!subscriber) {
      subscriber = {
        connection,
        eventing: connection.channel.type === 'eventing',
        subscriptions: new Map(),
        dropped: 0,
        lastDropLog: 0,
      }
      this.#subscribers.set(connection, subscriber)
    }
    if (!subscriber.subscriptions.has(key) && subscriber.subscriptions.size >= this.#options.maxSubscriptions) {
      throw new AppError('rate_limited', `a connection may hold at most ${this.#options.maxSubscriptions} subscriptions`)
    }
    subscriber.subscriptions.set(key, {
      id: request.id,
      patterns: request.patterns,
      objects: request.objects,
      expiresAt: Date.now() + request.expires * 1000,
    })
    this.#refresh(subscriber)
    return { id: request.id, expires: request.expires }
  }

  /** Events this connection lost because it did not read them fast enough. */
  dropped(connection: S): number {
    return this.#subscribers.get(connection)?.dropped ?? 0
  }

  /** The connection closed: its subscriptions end. */
  forget(connection: S): void {
    const subscriber = this.#subscribers.get(connection)
    if (!subscriber) return
    this.#subscribers.delete(connection)
    subscriber.subscriptions.clear()
    this.#refresh(subscriber)
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper)
    for (const subscriber of this.#subscribers.values()) subscriber.subscriptions.clear()
    for (const listener of this.#domains.values()) listener.bus.unsubscribe()
    for (const listener of this.#channels.values()) for (const bus of listener.subjects.values()) bus.unsubscribe()
    this.#domains.clear()
    this.#channels.clear()
    this.#subscribers.clear()
  }

  /** Puts the subscriber's bus subscriptions in step with its subscriptions. */
  #refresh(subscriber: Subscriber<S>): void {
    const { connection } = subscriber
    const active = subscriber.subscriptions.size > 0
    if (subscriber.eventing) {
      this.#refreshChannel(connection.channelId, connection.domainId, subscriber, active)
      return
    }
    let listener = this.#domains.get(connection.domainId)
    if (active) {
      if (!listener) {
        const subscribers = new Set<Subscriber<S>>()
        const bus = this.#options.bus.subscribe(EVENT, domainSubject(connection.domainId), (event) =>
          this.#toEach(subscribers, event),
        )
        listener = { bus, subscribers }
        this.#domains.set(connection.domainId, listener)
      }
      listener.subscribers.add(subscriber)
    } else if (listener) {
      listener.subscribers.delete(subscriber)
      if (listener.subscribers.size === 0) {
        listener.bus.unsubscribe()
        this.#domains.delete(connection.domainId)
      }
    }
  }

  #refreshChannel(channelId: string, domainId: string, subscriber: Subscriber<S>, active: boolean): void {
    let listener = this.#channels.get(channelId)
    if (!listener) {
      if (!active) return
      listener = { subjects: new Map(), subscribers: new Set(), turn: 0 }
      this.#channels.set(channelId, listener)
    }
    if (active) listener.subscribers.add(subscriber)
    else listener.subscribers.delete(subscriber)

    // The subjects every subscription of the channel on this node needs, joined in its group.
    const wanted = new Set<string>()
    for (const member of listener.subscribers) {
      for (const subscription of member.subscriptions.values()) {
        for (const pattern of subscription.patterns) {
          wanted.add(patternSubject(domainId, pattern, subscription.objects?.collection ?? null))
        }
      }
    }
    for (const [subject, bus] of listener.subjects) {
      if (wanted.has(subject)) continue
      bus.unsubscribe()
      listener.subjects.delete(subject)
    }
    const members = listener
    for (const subject of wanted) {
      if (members.subjects.has(subject)) continue
      const bus = this.#options.bus.subscribe(EVENT, subject, (event) => this.#toOne(members, event), {
        group: `evch.${channelId}`,
      })
      members.subjects.set(subject, bus)
    }
    if (listener.subscribers.size === 0) this.#channels.delete(channelId)
  }

  /** Ordinary channels: every connection with a matching subscription gets the event once. */
  #toEach(subscribers: ReadonlySet<Subscriber<S>>, event: BusEvent): void {
    const frame = new EventFrame(event)
    const now = Date.now()
    for (const subscriber of subscribers) {
      const ids = this.#matching(subscriber, event, now)
      if (ids.length > 0) this.#send(subscriber, event.class, frame.with(ids))
    }
  }

  /** Eventing channels: one connection of the channel (one with room to take it, if any) gets it. */
  #toOne(listener: ChannelListener<S>, event: BusEvent): void {
    const now = Date.now()
    const candidates: { subscriber: Subscriber<S>; ids: (string | number)[] }[] = []
    for (const subscriber of listener.subscribers) {
      const ids = this.#matching(subscriber, event, now)
      if (ids.length > 0) candidates.push({ subscriber, ids })
    }
    if (candidates.length === 0) {
      // The group gave it to this node, but none of its connections wants it (docs/events.md).
      this.#options.metrics.dropped(event.class, 'no_connection')
      return
    }
    const start = listener.turn++ % candidates.length
    let chosen = candidates[start] as (typeof candidates)[number]
    for (let i = 0; i < candidates.length; i++) {
      const candidate = candidates[(start + i) % candidates.length] as (typeof candidates)[number]
      if (candidate.subscriber.connection.bufferedBytes <= this.#options.maxBacklogBytes) {
        chosen = candidate
        break
      }
    }
    this.#send(chosen.subscriber, event.class, new EventFrame(event).with(chosen.ids))
  }

  #matching(subscriber: Subscriber<S>, event: BusEvent, now: number): (string | number)[] {
    const ids: (string | number)[] = []
    if (!subscriber.connection.open) return ids
    let readable: boolean | undefined
    for (const subscription of subscriber.subscriptions.values()) {
      if (subscription.expiresAt <= now) continue
      if (!subscription.patterns.some((pattern) => patternMatches(pattern, event))) continue
      if (subscription.objects && !objectsMatch(subscription.objects, event.data)) continue
      if (event.class === 'modelevents') {
        readable ??= this.#options.mayRead(subscriber.connection, (event.data as { collection: string }).collection)
        if (!readable) continue
      }
      ids.push(subscription.id)
    }
    return ids
  }

  /** Sends, or drops and counts when the connection already has too much waiting. */
  #send(subscriber: Subscriber<S>, eventClass: BusEvent['class'], frame: string): void {
    const { connection } = subscriber
    if (connection.bufferedBytes <= this.#options.maxBacklogBytes) {
      connection.sendFrame(frame)
      this.#options.metrics.delivered(eventClass)
      return
    }
    this.#options.metrics.dropped(eventClass, 'slow_client')
    subscriber.dropped++
    const now = Date.now()
    if (now - subscriber.lastDropLog >= DROP_LOG_EVERY_MS) {
      subscriber.lastDropLog = now
      this.#options.logger.warn(
        { connection_id: connection.id, channel_id: connection.channelId, dropped: subscriber.dropped },
        'events dropped: the subscriber does not read them fast enough',
      )
    }
  }

  #sweep(): void {
    const now = Date.now()
    for (const subscriber of [...this.#subscribers.values()]) {
      let changed = false
      for (const [key, subscription] of subscriber.subscriptions) {
        if (subscription.expiresAt > now) continue
        subscriber.subscriptions.delete(key)
        changed = true
      }
      if (changed) this.#refresh(subscriber)
    }
  }
}

/** An event's frame, serialised once for every recipient: only the subscription ids differ. */
class EventFrame {
  readonly #event: BusEvent
  #head: string | undefined

  constructor(event: BusEvent) {
    this.#event = event
  }

  with(ids: readonly (string | number)[]): string {
    const { id, class: cls, name, data, ts } = this.#event
    this.#head ??= `["event",${JSON.stringify({ id, class: cls, name, data, ts }).slice(0, -1)},"subscriptions":`
    return `${this.#head}${JSON.stringify(ids)}}]`
  }
}
