import type { JsonValue } from '../store/store.ts'
import type { Bus, BusHandler, BusSubscription, SubscribeOptions } from './bus.ts'
import { subjectMatches } from './subjects.ts'

interface Entry {
  readonly pattern: readonly string[]
  readonly handler: BusHandler
  readonly group: string | undefined
  active: boolean
}

/**
 * The in-process bus of the embedded mode. It keeps the promises of `Bus` that a network bus
 * keeps: delivery in a later microtask, a JSON copy per receiver, one member per queue group.
 */
export interface MemoryBusOptions {
  /** A handler threw. Default: ignored. */
  readonly onError?: (error: unknown, subject: string) => void
  /** A message reached its receivers `seconds` after it was published (latency metrics). Default: none. */
  readonly onDelivered?: (subject: string, seconds: number) => void
}

export class MemoryBus implements Bus {
  readonly #entries: Entry[] = []
  readonly #onError: (error: unknown, subject: string) => void
  readonly #onDelivered: ((subject: string, seconds: number) => void) | undefined
  #rotation = 0
  #closed = false

  constructor(options: MemoryBusOptions = {}) {
    this.#onError = options.onError ?? (() => {})
    this.#onDelivered = options.onDelivered
  }

  publish(subject: string, message: JsonValue): void {
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
        try {
          entry.handler(JSON.parse(text) as JsonValue, subject)
        } catch (error) {
          this.#onError(error, subject)
        }
      }
    })
  }

  subscribe(subject: string, handler: BusHandler, options: SubscribeOptions = {}): BusSubscription {
    const entry: Entry = { pattern: subject.split('.'), handler, group: options.group, active: true }
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
