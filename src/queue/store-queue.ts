import type { Store } from '../store/store.ts'
import type { Job, JobOutcome, JobQueue } from './job-queue.ts'

export interface StoreQueueOptions {
  /** Jobs run at once. */
  readonly concurrency: number
  /** How long `close` waits for running jobs, ms. */
  readonly closeWaitMs: number
  readonly onError: (error: unknown) => void
}

/** A job as stored: the row's doc. */
interface StoredJob {
  readonly id: string
  readonly payload: unknown
  readonly attempt: number
}

interface Waiting {
  readonly scope: string
  readonly job: StoredJob
}

/**
 * The embedded queue: jobs are rows of the `jobs` table. Accepts are group-committed — every
 * `enqueue` of one event-loop turn goes into one transaction — so a burst of async webhooks costs
 * one commit, not one each. Jobs wait in memory for a worker; a restart reads back the rows (a
 * job that was running when the process died runs again: at least once).
 *
 * One process per store: with several nodes on one PostgreSQL, each would also run the others'
 * jobs on restart. Cluster mode brings a JetStream queue for that.
 */
export class StoreJobQueue<T> implements JobQueue<T> {
  readonly #store: Store
  readonly #options: StoreQueueOptions
  #batch: { scope: string; job: StoredJob; done: () => void; failed: (error: unknown) => void }[] = []
  /** Finished jobs of this turn, removed together. */
  #finished: { id: string; done: () => void }[] = []
  readonly #ready: Waiting[] = []
  readonly #timers = new Set<NodeJS.Timeout>()
  readonly #running = new Set<Promise<void>>()
  #work: ((job: Job<T>) => Promise<JobOutcome>) | undefined
  #closed = false

  constructor(store: Store, options: StoreQueueOptions) {
    this.#store = store
    this.#options = options
  }

  enqueue(scope: string, id: string, payload: T): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('the queue is closed'))
    return new Promise((done, failed) => {
      if (this.#batch.length === 0) setImmediate(() => this.#commit())
      this.#batch.push({ scope, job: { id, payload, attempt: 1 }, done, failed })
    })
  }

  async start(work: (job: Job<T>) => Promise<JobOutcome>): Promise<void> {
    this.#work = work
    for (const { scope, doc } of await this.#store.table('jobs').scan()) {
      this.#ready.push({ scope: scope as string, job: doc as unknown as StoredJob })
    }
    this.#pump()
  }

  async close(): Promise<void> {
    this.#closed = true
    for (const timer of this.#timers) clearTimeout(timer)
    this.#timers.clear()
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      Promise.allSettled([...this.#running]),
      new Promise((resolve) => {
        timer = setTimeout(resolve, this.#options.closeWaitMs)
      }),
    ])
    clearTimeout(timer)
  }

  /** Stores the turn's accepts in one transaction, then answers them and queues the jobs. */
  async #commit(): Promise<void> {
    const batch = this.#batch
    this.#batch = []
    try {
      await this.#store.transaction(async (tx) => {
        const jobs = tx.table('jobs')
        for (const { scope, job } of batch) await jobs.insert(scope, job as unknown as StoredJob & Record<string, unknown>)
      })
    } catch (error) {
      for (const accepted of batch) accepted.failed(error)
      return
    }
    for (const { scope, job, done } of batch) {
      done()
      this.#ready.push({ scope, job })
    }
    this.#pump()
  }

  /** Removes a finished job, with the others finished in the same turn (one statement). */
  #remove(id: string): Promise<void> {
    return new Promise((done) => {
      if (this.#finished.length === 0) {
        setImmediate(() => {
          const finished = this.#finished
          this.#finished = []
          this.#store
            .table('jobs')
            .removeMany(finished.map((job) => job.id))
            .catch(this.#options.onError)
            .finally(() => {
              for (const job of finished) job.done()
            })
        })
      }
      this.#finished.push({ id, done })
    })
  }

  #pump(): void {
    const work = this.#work
    if (!work) return
    while (!this.#closed && this.#running.size < this.#options.concurrency && this.#ready.length > 0) {
      const waiting = this.#ready.shift() as Waiting
      const running: Promise<void> = this.#run(work, waiting).finally(() => {
        this.#running.delete(running)
        this.#pump()
      })
      this.#running.add(running)
    }
  }

  async #run(work: (job: Job<T>) => Promise<JobOutcome>, { scope, job }: Waiting): Promise<void> {
    let outcome: JobOutcome
    try {
      outcome = await work({ id: job.id, scope, payload: job.payload as T, attempt: job.attempt })
    } catch (error) {
      // A worker that throws has a bug; the job stays stored and runs again after a restart.
      this.#options.onError(error)
      return
    }
    const jobs = this.#store.table('jobs')
    try {
      if ('done' in outcome) {
        await this.#remove(job.id)
        return
      }
      const next: StoredJob = { id: job.id, payload: outcome.payload, attempt: job.attempt + 1 }
      await jobs.update(scope, next as unknown as StoredJob & Record<string, unknown>)
      if (this.#closed) return
      const timer = setTimeout(() => {
        this.#timers.delete(timer)
        this.#ready.push({ scope, job: next })
        this.#pump()
      }, outcome.retryInMs)
      this.#timers.add(timer)
    } catch (error) {
      this.#options.onError(error)
    }
  }
}
