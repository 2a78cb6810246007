import type { JsonValue } from '../store/store.ts'
import type { BusToRelay, RelayToBus } from './ipc-bus.ts'
import { subjectMatches } from './subjects.ts'

interface RelaySubscription {
  readonly worker: number
  readonly id: number
  readonly pattern: readonly string[]
  readonly group: string | undefined
}

/**
 * The supervisor's side of the embedded bus (IpcBus): it knows every worker's subscriptions and
 * routes each publish to the workers with a matching one — once per worker, naming its
 * subscriptions — and, per queue group, to one member across all workers (in turn). It handles
 * control-plane traffic only (changes, pushes, events); a webhook never crosses it.
 */
export class IpcBusRelay {
  readonly #workers = new Map<number, { send: (message: RelayToBus) => void; subs: Map<number, RelaySubscription> }>()
  #rotation = 0

  /** A worker joins: `send` reaches it. */
  attach(worker: number, send: (message: RelayToBus) => void): void {
    this.#workers.set(worker, { send, subs: new Map() })
  }

  /** A worker is gone: its subscriptions with it. */
  detach(worker: number): void {
    this.#workers.delete(worker)
  }

  receive(worker: number, message: BusToRelay): void {
    const from = this.#workers.get(worker)
    if (!from) return
    switch (message.t) {
      case 'bus.sub':
        from.subs.set(message.id, { worker, id: message.id, pattern: message.subject.split('.'), group: message.group })
        break
      case 'bus.unsub':
        from.subs.delete(message.id)
        break
      case 'bus.flush':
        from.send({ t: 'bus.flushed', id: message.id })
        break
      case 'bus.pub':
        this.publish(message.subject, message.message)
        break
    }
  }

  /** Routes a message (also one the supervisor publishes itself, such as a dead worker's goodbye). */
  publish(subject: string, message: JsonValue): void {
    const tokens = subject.split('.')
    const byWorker = new Map<number, number[]>()
    const groups = new Map<string, RelaySubscription[]>()
    for (const { subs } of this.#workers.values()) {
      for (const sub of subs.values()) {
        if (!subjectMatches(sub.pattern, tokens)) continue
        if (sub.group === undefined) add(byWorker, sub)
        else {
          const members = groups.get(sub.group)
          if (members) members.push(sub)
          else groups.set(sub.group, [sub])
        }
      }
    }
    for (const members of groups.values()) add(byWorker, members[this.#rotation++ % members.length] as RelaySubscription)
    for (const [worker, subs] of byWorker) this.#workers.get(worker)?.send({ t: 'bus.msg', subs, subject, message })
  }
}

function add(byWorker: Map<number, number[]>, sub: RelaySubscription): void {
  const ids = byWorker.get(sub.worker)
  if (ids) ids.push(sub.id)
  else byWorker.set(sub.worker, [sub.id])
}
