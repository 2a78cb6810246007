import type { QueueMetrics, QueueStats } from '../metrics/queue-metrics.ts'
import type { Store } from '../store/store.ts'
import type { Job, JobOutcome, JobQueue } from './job-queue.ts'

export interface StoreQueueOptions {
  /** Jobs run at once. */
  readonly concurrency: number
  /** How long `close` waits for running jobs before it hands them back, ms. */
  readonly closeWaitMs: number
  readonly metrics: QueueMetrics
  readonly onError: (error: unknown) => void
}

/** After `close` aborted the runs still going, how long it waits for their workers to answer, ms. */
const HAND_BACK_WAIT_MS = 2000

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
 * job that was running when the process died runs again: at least once). A graceful `close`
 * hands running jobs back explicitly: their rows stay as they were.
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
  /** Runs in progress, each with the signal that hands it back. */
  readonly #running = new Map<Promise<void>, AbortController>()
  #work: ((job: Job<T>, stop: AbortSignal) => Promise<JobOutcome>) | undefined
  #closed: Promise<void> | undefined

  constructor(store: Store, options: StoreQueueOptions) {
    this.#store = store
    this.#options = options
    options.metrics.watch(() => this.stats)
  }

  /** How many jobs wait, run and wait for a retry now. */
  get stats(): QueueStats {
    return { ready: this.#ready.length, running: this.#running.size, retrying: this.#timers.size }
  }

  enqueue(scope: string, id: string, payload: T): Promise<void> {
    // After close too: a webhook accepted while the server drains is stored for the next start.
    return new Promise((done, failed) => {
      if (this.#batch.length === 0) setImmediate(() => this.#commit())
      this.#batch.push({ scope, job: { id, payload, attempt: 1 }, done, failed })
    })
  }

  async start(work: (job: Job<T>, stop: AbortSignal) => Promise<JobOutcome>): Promise<void> {
    this.#work = work
    for (const { scope, doc } of await this.#store.table('jobs').scan()) {
      this.#ready.push({ scope: scope as string, job: doc as unknown as StoredJob })
    }
    this.#pump()
  }

  close(): Promise<void> {
    this.#closed ??= this.#stop()
    return this.#closed
  }

  async #stop(): Promise<void> {
    // Jobs waiting for a retry keep their stored attempt; the next start runs them.
    for (const timer of this.#timers) clearTimeout(timer)
    this.#timers.clear()
    if (await settledWithin([...this.#running.keys()], this.#options.closeWaitMs)) return
    for (const stop of this.#running.values()) stop.abort()
    await settledWithin([...this.#running.keys()], HAND_BACK_WAIT_MS)
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
    this.#options.metrics.accepted.value += batch.length
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
      const stop = new AbortController()
      const running: Promise<void> = this.#run(work, waiting, stop.signal).finally(() => {
        this.#running.delete(running)
        this.#pump()
      })
      this.#running.set(running, stop)
    }
  }

  async #run(
    work: (job: Job<T>, stop: AbortSignal) => Promise<JobOutcome>,
    { scope, job }: Waiting,
    stop: AbortSignal,
  ): Promise<void> {
    const { metrics } = this.#options
    let outcome: JobOutcome
    try {
      outcome = await work({ id: job.id, scope, payload: job.payload as T, attempt: job.attempt }, stop)
    } catch (error) {
      // A worker that throws has a bug; the job stays stored and runs again after a restart.
      this.#options.onError(error)
      return
    }
    const jobs = this.#store.table('jobs')
    try {
      if ('handedBack' in outcome) {
        metrics.handedBack.value++
        return
      }
      if ('done' in outcome) {
        metrics.completed.value++
        await this.#remove(job.id)
        return
      }
      metrics.retries.value++
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

/** Whether every promise settled within `ms`. */
async function settledWithin(promises: readonly Promise<unknown>[], ms: number): Promise<boolean> {
  if (promises.length === 0) return true
  let timer: NodeJS.Timeout | undefined
  const settled = await Promise.race([
    Promise.allSettled(promises).then(() => true),
    new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms)
    }),
  ])
  clearTimeout(timer)
  return settled
}
