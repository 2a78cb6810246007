import type { Bus } from '../bus/bus.ts'
import type { Doc, JsonValue, Scope } from '../store/store.ts'
import type { Operation } from './collection.ts'

/**
 * A committed change. Local listeners get the full `entity` (deletes: the deleted one); changes
 * made on another node arrive without it, and listeners that cache entities read the store.
 */
export interface Change {
  readonly collection: string
  readonly operation: Operation
  readonly id: string
  readonly scope: Scope
  readonly entity: Doc | undefined
}

export type ChangeListener = (change: Change) => void

/** An in-memory copy of a collection, kept current by `ChangeFeed.mirror`. */
export interface MirrorTarget {
  put(scope: Scope, entity: Doc): void
  remove(id: string): void
}

/** What goes on the bus: the change with secret fields removed. It is also the `modelevents` source. */
export interface ChangeNotice {
  readonly node: string
  readonly collection: string
  readonly operation: Operation
  readonly id: string
  readonly scope: Scope
  readonly entity: Record<string, JsonValue>
}

export const CHANGES_SUBJECT = 'changes'

/**
 * Tells the node's caches about every committed change at once (so a rotated token fails on the
 * very next request), and other nodes through the bus.
 */
export class ChangeFeed {
  readonly #bus: Bus
  readonly #node: string
  readonly #listeners = new Map<string, ChangeListener[]>()
  readonly #committedHere: ((notice: ChangeNotice) => void)[] = []

  constructor(bus: Bus, node: string) {
    this.#bus = bus
    this.#node = node
    bus.subscribe(`${CHANGES_SUBJECT}.>`, (message) => {
      const notice = message as unknown as ChangeNotice
      if (notice.node === this.#node) return
      this.#notify({ ...notice, entity: undefined })
    })
  }

  listen(collection: string, listener: ChangeListener): void {
    const listeners = this.#listeners.get(collection)
    if (listeners) listeners.push(listener)
    else this.#listeners.set(collection, [listener])
  }

  /**
   * Keeps `target` in step with `collection`: local changes apply at once, remote ones after
   * `load` reads the entity. A slow load never overwrites a newer change of the same entity.
   */
  mirror(
    collection: string,
    target: MirrorTarget,
    load: (scope: Scope, id: string) => Promise<Doc | undefined>,
    onError: (error: unknown) => void,
  ): void {
    const generations = new Map<string, number>()
    const settle = (id: string, generation: number) => {
      if (generations.get(id) === generation) generations.delete(id)
    }
    this.listen(collection, (change) => {
      const generation = (generations.get(change.id) ?? 0) + 1
      generations.set(change.id, generation)
      if (change.operation === 'delete') {
        target.remove(change.id)
        settle(change.id, generation)
      } else if (change.entity) {
        target.put(change.scope, change.entity)
        settle(change.id, generation)
      } else {
        load(change.scope, change.id).then((doc) => {
          if (generations.get(change.id) !== generation) return
          if (doc) target.put(change.scope, doc)
          else target.remove(change.id)
          settle(change.id, generation)
        }, onError)
      }
    })
  }

  /** Calls `listener` with each change committed on this node, secrets removed: the `modelevents` source. */
  onCommitted(listener: (notice: ChangeNotice) => void): void {
    this.#committedHere.push(listener)
  }

  /** Call after the commit. `secrets` are the entity's fields that must not leave the node. */
  committed(change: Change & { readonly entity: Doc }, secrets: readonly string[], hidden: readonly string[]): void {
    this.#notify(change)
    const entity: Record<string, JsonValue> = {}
    for (const [key, value] of Object.entries(change.entity)) {
      if (!secrets.includes(key) && !hidden.includes(key)) entity[key] = value as JsonValue
    }
    const notice: ChangeNotice = {
      node: this.#node,
      collection: change.collection,
      operation: change.operation,
      id: change.id,
      scope: change.scope,
      entity,
    }
    this.#bus.publish(`${CHANGES_SUBJECT}.${change.collection}`, notice as unknown as JsonValue)
    for (const listener of this.#committedHere) listener(notice)
  }

  #notify(change: Change): void {
    for (const listener of this.#listeners.get(change.collection) ?? []) listener(change)
  }
}
