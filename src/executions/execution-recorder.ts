import type { Store } from '../store/store.ts'
import type { Execution } from './execution-schemas.ts'

export interface RecorderOptions {
  /** Longest wait before a batch is written, ms. */
  readonly flushMs: number
  /** Most records in one transaction. */
  readonly maxBatch: number
  /** Records kept over all domains; older ones are deleted. */
  readonly keepCount: number
  /** Records older than this are deleted, ms. */
  readonly keepMs: number
  /** How often retention runs, ms. */
  /** undefined: another worker of the node does it (the housekeeper). */
  readonly retentionEveryMs: number | undefined
  readonly onError: (error: unknown) => void
}

interface Pending {
  readonly domainId: string
  readonly execution: Execution
  readonly ifAbsent: boolean
  readonly done: (stored: boolean) => void
}

export interface RecordOptions {
  /** A caller waits for this record: the batch goes out without the usual wait. Default false. */
  readonly soon?: boolean
  /**
   * Only if the execution has no record yet (an accepted job's `queued`): in cluster mode the
   * node that ran the job may have written its outcome before the accepting node's batch went
   * out, and that outcome must stay. Default false: the record replaces the one stored.
   */
  readonly ifAbsent?: boolean
}

/**
 * Writes execution records off the request path: records are buffered and written in one
 * transaction per batch (SPEC §5.5, DESIGN §2), and retention deletes the oldest by age and count.
 */
export class ExecutionRecorder {
  readonly #store: Store
  readonly #options: RecorderOptions
  #buffer: Pending[] = []
  #timer: NodeJS.Timeout | undefined
  #writing: Promise<void> = Promise.resolve()
  readonly #retention: NodeJS.Timeout | undefined

  constructor(store: Store, options: RecorderOptions) {
    this.#store = store
    this.#options = options
    const every = options.retentionEveryMs
    this.#retention =
      every === undefined
        ? undefined
        : setInterval(() => {
            this.prune().catch(options.onError)
          }, every).unref()
  }

  /**
   * Queues `execution` (a new record or a newer state of one); resolves once its batch is
   * written: true, or false when the write failed (reported to `onError`, never retried).
   */
  record(domainId: string, execution: Execution, options: RecordOptions = {}): Promise<boolean> {
    return new Promise((done) => {
      this.#buffer.push({ domainId, execution, ifAbsent: options.ifAbsent ?? false, done })
      if (options.soon || this.#buffer.length >= this.#options.maxBatch) this.#flushSoon(0)
      else this.#flushSoon(this.#options.flushMs)
    })
  }

  /** Writes everything queued so far. */
  flush(): Promise<void> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    const batch = this.#buffer
    this.#buffer = []
    if (batch.length === 0) return this.#writing
    this.#writing = this.#writing.then(() => this.#write(batch))
    return this.#writing
  }

  async prune(): Promise<void> {
    const executions = this.#store.table('executions')
    await executions.removeBefore('started_at', new Date(Date.now() - this.#options.keepMs).toISOString())
    await executions.keepNewest('started_at', this.#options.keepCount)
  }

  async close(): Promise<void> {
    clearInterval(this.#retention)
    await this.flush()
  }

  #flushSoon(ms: number): void {
    if (this.#timer !== undefined && ms > 0) return
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => {
      this.flush().catch(this.#options.onError)
    }, ms)
  }

  async #write(batch: readonly Pending[]): Promise<void> {
    try {
      // A record may come twice in a batch (queued, then done): the later wins, but an
      // if-absent record never replaces another state of the same execution.
      const latest = new Map<string, Pending>()
      for (const pending of batch) {
        if (pending.ifAbsent && latest.has(pending.execution.id)) continue
        latest.set(pending.execution.id, pending)
      }
      const rows = (ifAbsent: boolean) =>
        [...latest.values()]
          .filter((pending) => pending.ifAbsent === ifAbsent)
          .map(({ domainId, execution }) => ({ scope: domainId, doc: execution as unknown as Execution & { id: string } }))
      await this.#store.transaction(async (tx) => {
        const executions = tx.table('executions')
        await executions.upsertMany(rows(false))
        await executions.upsertMany(rows(true), { keepExisting: true })
      })
      for (const pending of batch) pending.done(true)
    } catch (error) {
      // Records are for inspection: a failed batch is reported, never retried into a backlog. A
      // caller that must not go on without its record (an async job's ack) learns of it.
      this.#options.onError(error)
      for (const pending of batch) pending.done(false)
    }
  }
}
