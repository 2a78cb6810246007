import type { Bus, BusHandler, BusSubscription, MalformedHandler, SubscribeOptions } from './bus.ts'
import { subjectMatches } from './subjects.ts'
import type { Topic } from './topic.ts'

interface Entry {
  readonly pattern: readonly string[]
  readonly topic: Topic<unknown>
  readonly handler: BusHandler<unknown>
  readonly group: string | undefined
  active: boolean
}

/**
 * The in-process bus of the embedded mode. It keeps the promises of `Bus` that a network bus
 * keeps: delivery in a later microtask, a JSON copy per receiver, one member per queue group.
 */
export interface MemoryBusOptions {
  /** A handler threw. Default: ignored, for tests of the bus itself; the server passes one that logs and counts. */
  readonly onError?: (error: unknown, subject: string) => void
  /** A message reached its receivers `seconds` after it was published (latency metrics). Default: none. */
  readonly onDelivered?: (subject: string, seconds: number) => void
  /** A message did not fit a subscription's topic (it is dropped for it). Default: ignored. */
  readonly onMalformed?: MalformedHandler
}

export class MemoryBus implements Bus {
  readonly #entries: Entry[] = []
  readonly #onError: (error: unknown, subject: string) => void
  readonly #onDelivered: ((subject: string, seconds: number) => void) | undefined
  readonly #onMalformed: MalformedHandler
  #rotation = 0
  #closed = false

  constructor(options: MemoryBusOptions = {}) {
    this.#onError = options.onError ?? (() => {})
    this.#onDelivered = options.onDelivered
    this.#onMalformed = options.onMalformed ?? (() => {})
  }

  publish<T>(_topic: Topic<T>, subject: string, message: T): void {
    if (this.#closed) throw new Error('bus is closed')
    const tokens = subject.split('.')
    const targets: Entry[] = []
    const groups = new Map<string, Entry[]>()
    for (const entry of this.#entries) {
      if (!subjectMatches(entry.pattern, tokens)) continue
      if (entry.group === undefined) targets.push(entry)
      else {
        const members = groups.get(entry.group)
        if (members) members.push(entry)
        else groups.set(entry.group, [entry])
      }
    }
    for (const members of groups.values()) {
      targets.push(members[this.#rotation++ % members.length] as Entry)
    }
    if (targets.length === 0) return
    const text = JSON.stringify(message)
    const published = this.#onDelivered === undefined ? 0 : performance.now()
    queueMicrotask(() => {
      this.#onDelivered?.(subject, (performance.now() - published) / 1000)
      for (const entry of targets) {
        if (!entry.active) continue
        const copy: unknown = JSON.parse(text)
        if (!entry.topic.check(copy)) {
          this.#onMalformed(entry.topic.name, subject)
          continue
        }
        try {
          entry.handler(copy, subject)
        } catch (error) {
          this.#onError(error, subject)
        }
      }
    })
  }

  subscribe<T>(topic: Topic<T>, subject: string, handler: BusHandler<T>, options: SubscribeOptions = {}): BusSubscription {
    const entry: Entry = {
      pattern: subject.split('.'),
      topic,
      handler: handler as BusHandler<unknown>,
      group: options.group,
      active: true,
    }
    this.#entries.push(entry)
    return {
      unsubscribe: () => {
        entry.active = false
        const at = this.#entries.indexOf(entry)
        if (at !== -1) this.#entries.splice(at, 1)
      },
    }
  }

  async flush(): Promise<void> {
    await Promise.resolve()
  }

  async close(): Promise<void> {
    this.#closed = true
    for (const entry of this.#entries) entry.active = false
    this.#entries.length = 0
  }
}
