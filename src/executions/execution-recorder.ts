import type { Store } from '../store/store.ts'
import type { Execution } from './execution-schemas.ts'
import { recordJson } from './record-bounds.ts'

export interface RecorderOptions {
  /** Longest wait before a batch is written, ms. */
  readonly flushMs: number
  /** Most records in one transaction. */
  readonly maxBatch: number
  /**
   * Most records waiting to be written (a slow or full store): past it new records are dropped,
   * counted and reported, instead of growing the process without bound.
   */
  readonly maxBuffered: number
  /** Records kept over all domains; older ones are deleted. */
  readonly keepCount: number
  /** Records older than this are deleted, ms. */
  readonly keepMs: number
  /** How often retention runs, ms; undefined: another worker of the node does it (the housekeeper). */
  readonly retentionEveryMs: number | undefined
  /** A batch could not be written (it is tried again), or records were dropped. */
  readonly onError: (error: unknown) => void
  /** Counts records dropped because the buffer was full. Default: none. */
  readonly onDropped?: (count: number) => void
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

/** Waits between attempts to write a batch that failed, ms: doubled up to the last. */
const RETRY_MS = [100, 500, 1000, 2000, 5000, 10_000]

/**
 * Writes execution records off the request path: records are buffered and written in one
 * transaction per batch (SPEC §5.5, DESIGN §2), and retention deletes the oldest by age and count.
 * A batch that fails (a full disk, a store that does not answer) is written again later, oldest
 * first, while the server runs; the buffer is bounded, and what does not fit is dropped and counted.
 */
export class ExecutionRecorder {
  readonly #store: Store
  readonly #options: RecorderOptions
  #buffer: Pending[] = []
  #timer: NodeJS.Timeout | undefined
  #writing: Promise<void> = Promise.resolve()
  /** Failed writes in a row (the next retry's wait). */
  #failures = 0
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

  /** Records waiting to be written now. */
  get buffered(): number {
    return this.#buffer.length
  }

  /**
   * Queues `execution` (a new record or a newer state of one); resolves once its batch is
   * written: true, or false when it was dropped (the buffer was full). A failed write is tried
   * again until it succeeds, or until the recorder closes (then false).
   */
  record(domainId: string, execution: Execution, options: RecordOptions = {}): Promise<boolean> {
    if (this.#buffer.length >= this.#options.maxBuffered) {
      this.#options.onDropped?.(1)
      return Promise.resolve(false)
    }
    return new Promise((done) => {
      this.#buffer.push({ domainId, execution, ifAbsent: options.ifAbsent ?? false, done })
      if (this.#failures > 0) return // the retry timer is set
      if (options.soon || this.#buffer.length >= this.#options.maxBatch) this.#flushSoon(0)
      else this.#flushSoon(this.#options.flushMs)
    })
  }

  /** Writes everything queued so far (a batch that fails is kept for the next attempt). */
  flush(): Promise<void> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#writing = this.#writing.then(() => this.#writeAll())
    return this.#writing
  }

  async prune(): Promise<void> {
    const executions = this.#store.table('executions')
    await executions.removeBefore('started_at', new Date(Date.now() - this.#options.keepMs).toISOString())
    await executions.keepNewest('started_at', this.#options.keepCount)
  }

  /** Writes what waits, once; what still cannot be written is given up (its callers hear false). */
  async close(): Promise<void> {
    clearInterval(this.#retention)
    await this.flush()
    clearTimeout(this.#timer)
    for (const pending of this.#buffer.splice(0)) pending.done(false)
  }

  #flushSoon(ms: number): void {
    if (this.#timer !== undefined && ms > 0) return
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.flush().catch(this.#options.onError)
    }, ms)
  }

  /** Batches of `maxBatch`, oldest first, until the buffer is empty or a write fails. */
  async #writeAll(): Promise<void> {
    while (this.#buffer.length > 0) {
      const batch = this.#buffer.slice(0, this.#options.maxBatch)
      try {
        await this.#write(batch)
      } catch (error) {
        this.#failures++
        this.#options.onError(error)
        // Kept, oldest first; tried again after a wait that grows with the failures.
        this.#flushSoon(RETRY_MS[Math.min(this.#failures, RETRY_MS.length) - 1] as number)
        return
      }
      this.#buffer.splice(0, batch.length)
      this.#failures = 0
      for (const pending of batch) pending.done(true)
    }
  }

  async #write(batch: readonly Pending[]): Promise<void> {
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
        .map(({ domainId, execution }) => ({
          scope: domainId,
          doc: execution as unknown as Execution & { id: string },
          text: recordJson(execution),
        }))
    await this.#store.transaction(async (tx) => {
      const executions = tx.table('executions')
      await executions.upsertMany(rows(false))
      await executions.upsertMany(rows(true), { keepExisting: true })
    })
  }
}
