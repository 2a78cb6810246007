import { Type } from '@sinclair/typebox'
import type { Bus, BusSubscription } from '../bus/bus.ts'
import type { Peers } from '../bus/peers.ts'
import { topic } from '../bus/topic.ts'
import type { Doc, JsonValue, Scope, ScopedDoc } from '../store/store.ts'
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

/** Told of a change; a listener that updates a copy from the store returns the update's promise. */
export type ChangeListener = (change: Change) => void | Promise<void>

/** A copy kept current by `ChangeFeed.mirror`, and how it is filled at start. */
export interface Mirror {
  /**
   * Fills the copy from `scan` (the whole table), leaving out what changed while the scan ran:
   * those changes applied already, and the scan may have read the entity before them.
   */
  seed(scan: () => Promise<readonly ScopedDoc[]>): Promise<void>
}

/** An in-memory copy of a collection, kept current by `ChangeFeed.mirror`. */
export interface MirrorTarget {
  put(scope: Scope, entity: Doc): void
  remove(id: string): void
}

/**
 * A change committed on this node, with its entity's secret and hidden fields removed: what
 * `onCommitted` listeners get (the `modelevents` source). The bus carries it without the entity
 * (`RemoteNotice`): other nodes re-read the store, and no entity — however large — rides the bus.
 */
export interface ChangeNotice {
  readonly node: string
  readonly collection: string
  readonly operation: Operation
  readonly id: string
  readonly scope: Scope
  readonly entity: Record<string, JsonValue>
  /** Numbers the writer's notices, for the confirmations of the other nodes. */
  readonly seq: number
}

/** A change notice as it travels to the other nodes. */
export type RemoteNotice = Omit<ChangeNotice, 'entity'>

const REMOTE_NOTICE = topic(
  'changes',
  Type.Object({
    node: Type.String(),
    collection: Type.String(),
    operation: Type.Union([Type.Literal('create'), Type.Literal('update'), Type.Literal('delete')]),
    id: Type.String(),
    scope: Type.Union([Type.String(), Type.Null()]),
    seq: Type.Integer(),
  }),
)
const CONFIRMATION = topic('confirm.changes', Type.Object({ node: Type.String(), seq: Type.Integer() }))

const CHANGES_SUBJECT = 'changes'
const CONFIRM_SUBJECT = 'confirm.changes'

const CONFIRM_TIMEOUT_MS = 2000

export interface ChangeFeedOptions {
  /** The other nodes, whose confirmations a write waits for; none in embedded mode. */
  readonly peers?: Peers
  /** The longest a write waits for the other nodes' confirmations, ms (default 2000). */
  readonly confirmTimeoutMs?: number
  /** A node did not confirm a change in time (it may serve the old state for a moment). */
  readonly onUnconfirmed?: (nodes: readonly string[], notice: ChangeNotice) => void
}

/**
 * Tells the node's caches about every committed change at once, and other nodes through the bus.
 * A write is answered only once every live node has confirmed that its copies are current (or
 * after a bound): so a token rotated through one node fails on the very next request to any node.
 */
export class ChangeFeed {
  readonly #bus: Bus
  readonly #node: string
  readonly #options: ChangeFeedOptions
  readonly #listeners = new Map<string, ChangeListener[]>()
  readonly #committedHere: ((notice: ChangeNotice) => void)[] = []
  readonly #unconfirmed = new Map<number, { nodes: Set<string>; done: () => void }>()
  readonly #subscriptions: BusSubscription[]
  #seq = 0
  #closed = false

  constructor(bus: Bus, node: string, options: ChangeFeedOptions = {}) {
    this.#bus = bus
    this.#node = node
    this.#options = options
    this.#subscriptions = [
      bus.subscribe(REMOTE_NOTICE, `${CHANGES_SUBJECT}.>`, (notice) => {
        if (notice.node === this.#node) return
        void this.#notify({ ...notice, entity: undefined }).then(() => this.#confirm(notice))
      }),
      bus.subscribe(CONFIRMATION, `${CONFIRM_SUBJECT}.${node}`, ({ node: from, seq }) => this.#confirmed(from, seq)),
    ]
    // A node that says goodbye confirms nothing more: writes stop waiting for it at once.
    options.peers?.onGone((gone) => {
      for (const seq of [...this.#unconfirmed.keys()]) this.#confirmed(gone, seq)
    })
  }

  /** Stops hearing other nodes' changes; writes waiting for confirmations go on at once. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const subscription of this.#subscriptions) subscription.unsubscribe()
    for (const waiting of [...this.#unconfirmed.values()]) waiting.done()
  }

  /** Tells the writer this node's copies are current (unless the node is shutting down). */
  #confirm(notice: RemoteNotice): void {
    if (this.#closed) return
    try {
      this.#bus.publish(CONFIRMATION, `${CONFIRM_SUBJECT}.${notice.node}`, { node: this.#node, seq: notice.seq })
    } catch {
      // The bus closed meanwhile: the writer stops waiting at its bound.
    }
  }

  #confirmed(from: string, seq: number): void {
    const waiting = this.#unconfirmed.get(seq)
    if (!waiting) return
    waiting.nodes.delete(from)
    if (waiting.nodes.size === 0) waiting.done()
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
  ): Mirror {
    const generations = new Map<string, number>()
    const settle = (id: string, generation: number) => {
      if (generations.get(id) === generation) generations.delete(id)
    }
    /** While the first fill reads the table: the ids a change has touched meanwhile. */
    let changedWhileSeeding: Set<string> | undefined
    this.listen(collection, (change) => {
      changedWhileSeeding?.add(change.id)
      const generation = (generations.get(change.id) ?? 0) + 1
      generations.set(change.id, generation)
      if (change.operation === 'delete') {
        target.remove(change.id)
        settle(change.id, generation)
      } else if (change.entity) {
        target.put(change.scope, change.entity)
        settle(change.id, generation)
      } else {
        return load(change.scope, change.id).then((doc) => {
          if (generations.get(change.id) !== generation) return
          if (doc) target.put(change.scope, doc)
          else target.remove(change.id)
          settle(change.id, generation)
        }, onError)
      }
    })
    return {
      // A change that arrives while the scan is on its way is newer than what the scan read.
      async seed(scan) {
        changedWhileSeeding = new Set()
        try {
          for (const { scope, doc } of await scan()) if (!changedWhileSeeding.has(doc.id)) target.put(scope, doc)
        } finally {
          changedWhileSeeding = undefined
        }
      },
    }
  }

  /** Calls `listener` with each change committed on this node, secrets removed: the `modelevents` source. */
  onCommitted(listener: (notice: ChangeNotice) => void): void {
    this.#committedHere.push(listener)
  }

  /**
   * Call after the commit. `secrets` are the entity's fields that must not leave the node;
   * `conceal` masks the write-only values inside it (the node's own directories get them).
   * Resolves when the other live nodes have confirmed the change (at once without peers).
   */
  committed(
    change: Change & { readonly entity: Doc },
    secrets: readonly string[],
    hidden: readonly string[],
    conceal?: (doc: Doc) => Doc,
  ): Promise<void> {
    void this.#notify(change)
    const entity: Record<string, JsonValue> = {}
    for (const [key, value] of Object.entries(conceal ? conceal(change.entity) : change.entity)) {
      if (!secrets.includes(key) && !hidden.includes(key)) entity[key] = value as JsonValue
    }
    const notice: ChangeNotice = {
      node: this.#node,
      collection: change.collection,
      operation: change.operation,
      id: change.id,
      scope: change.scope,
      entity,
      seq: ++this.#seq,
    }
    const peers = this.#options.peers?.live() ?? []
    const confirmed = peers.length === 0 ? Promise.resolve() : this.#confirmations(notice, peers)
    const { entity: _local, ...remote } = notice
    this.#bus.publish(REMOTE_NOTICE, `${CHANGES_SUBJECT}.${change.collection}`, remote satisfies RemoteNotice)
    for (const listener of this.#committedHere) listener(notice)
    return confirmed
  }

  #confirmations(notice: ChangeNotice, peers: readonly string[]): Promise<void> {
    return new Promise((resolve) => {
      const nodes = new Set(peers)
      const timer = setTimeout(() => {
        this.#unconfirmed.delete(notice.seq)
        this.#options.onUnconfirmed?.([...nodes], notice)
        resolve()
      }, this.#options.confirmTimeoutMs ?? CONFIRM_TIMEOUT_MS)
      this.#unconfirmed.set(notice.seq, {
        nodes,
        done: () => {
          clearTimeout(timer)
          this.#unconfirmed.delete(notice.seq)
          resolve()
        },
      })
    })
  }

  /** Tells the listeners; resolves when the copies they update are current. */
  async #notify(change: Change): Promise<void> {
    const pending: Promise<void>[] = []
    for (const listener of this.#listeners.get(change.collection) ?? []) {
      const result = listener(change)
      if (result) pending.push(result)
    }
    // Listeners report their own failures (mirror's onError): this waits only until the copies are current.
    if (pending.length > 0) await Promise.allSettled(pending)
  }
}
