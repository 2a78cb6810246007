import type { QueueMetrics, QueueStats } from '../metrics/queue-metrics.ts'
import type { JobRow, Store } from '../store/store.ts'
import type { Job, JobOutcome, JobQueue } from './job-queue.ts'

export interface StoreQueueOptions {
  /** Jobs run at once (by this worker). */
  readonly concurrency: number
  /** How long `close` waits for running jobs before it hands them back, ms. */
  readonly closeWaitMs: number
  /**
   * Who holds the jobs this queue accepts or claims: `<epoch>/<worker>`. The epoch names the run
   * of the node; a job held by an owner of another epoch (a node that stopped) is free at once.
   */
  readonly epoch: string
  readonly worker: string
  /** A lease lives this long unless renewed (every third of it), ms. Default 30 s. */
  readonly leaseMs?: number
  /** How often free jobs (a dead worker's, handed-back ones) are looked for, ms. Default 1 s. */
  readonly claimEveryMs?: number
  readonly metrics: QueueMetrics
  readonly onError: (error: unknown) => void
}

/** After `close` aborted the runs still going, how long it waits for their workers to answer, ms. */
const HAND_BACK_WAIT_MS = 2000
const DEFAULT_LEASE_MS = 30_000
const DEFAULT_CLAIM_EVERY_MS = 1000

/** A job as stored: the row's doc. */
interface StoredJob {
  readonly id: string
  readonly payload: unknown
  readonly attempt: number
  /** Not before this time (a retry's wait), ms since the epoch. Absent: at once. */
  readonly notBefore?: number
}

interface Waiting {
  readonly scope: string
  readonly job: StoredJob
}

/**
 * The embedded queue: jobs are rows of the `jobs` table, shared by the workers of the node
 * (SPEC §13). Accepts are group-committed — every `enqueue` of one event-loop turn goes into one
 * transaction — and the accepting worker holds the job under a lease and runs it itself (no hop
 * to another process). The lease is renewed while the worker lives; a worker that dies leaves its
 * jobs to the others (at once when the supervisor reports it gone, else when the lease ends), so
 * none is lost, and none runs twice while its lease lives. A graceful `close` hands the jobs it
 * holds back: their rows stay as they were, free for the other workers or the next start.
 */
export class StoreJobQueue<T> implements JobQueue<T> {
  readonly #store: Store
  readonly #options: StoreQueueOptions
  readonly #owner: string
  readonly #leaseMs: number
  #batch: { scope: string; job: StoredJob; done: () => void; failed: (error: unknown) => void }[] = []
  /** Finished jobs of this turn, removed together. */
  #finished: { id: string; done: () => void }[] = []
  readonly #ready: Waiting[] = []
  readonly #timers = new Set<NodeJS.Timeout>()
  /** Runs in progress, each with the signal that hands it back. */
  readonly #running = new Map<Promise<void>, AbortController>()
  #work: ((job: Job<T>, stop: AbortSignal) => Promise<JobOutcome>) | undefined
  #closed: Promise<void> | undefined
  #claiming: Promise<void> | undefined
  #renewTimer: NodeJS.Timeout | undefined
  #claimTimer: NodeJS.Timeout | undefined

  constructor(store: Store, options: StoreQueueOptions) {
    this.#store = store
    this.#options = options
    this.#owner = `${options.epoch}/${options.worker}`
    this.#leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS
    options.metrics.watch(() => this.stats)
  }

  /** How many jobs wait, run and wait for a retry now (in this worker). */
  get stats(): QueueStats {
    return { ready: this.#ready.length, running: this.#running.size, retrying: this.#timers.size }
  }

  enqueue(scope: string, id: string, payload: T): Promise<void> {
    // After close too: a webhook accepted while the server drains is stored, free for the others.
    return new Promise((done, failed) => {
      if (this.#batch.length === 0) setImmediate(() => this.#commit())
      this.#batch.push({ scope, job: { id, payload, attempt: 1 }, done, failed })
    })
  }

  async start(work: (job: Job<T>, stop: AbortSignal) => Promise<JobOutcome>): Promise<void> {
    this.#work = work
    await this.#claim()
    this.#pump()
    this.#renewTimer = setInterval(() => {
      this.#store.jobs.renew(this.#owner, Date.now() + this.#leaseMs).catch(this.#options.onError)
    }, this.#leaseMs / 3)
    this.#renewTimer.unref()
    this.#claimTimer = setInterval(() => {
      this.#claim().catch(this.#options.onError)
    }, this.#options.claimEveryMs ?? DEFAULT_CLAIM_EVERY_MS)
    this.#claimTimer.unref()
  }

  async find(scope: string, id: string): Promise<Job<T> | undefined> {
    const row = await this.#store.jobs.get(scope, id)
    if (!row) return undefined
    const job = row.doc as unknown as StoredJob
    return { id: job.id, scope: row.scope, payload: job.payload as T, attempt: job.attempt }
  }

  /**
   * Another worker of this node is gone (the supervisor says so when it dies): its jobs are free
   * now rather than when their leases end.
   */
  async workerGone(worker: string): Promise<void> {
    if (this.#closed) return
    await this.#store.jobs.release(`${this.#options.epoch}/${worker}`)
    await this.#claim()
  }

  close(): Promise<void> {
    this.#closed ??= this.#stop()
    return this.#closed
  }

  async #stop(): Promise<void> {
    clearInterval(this.#claimTimer)
    clearInterval(this.#renewTimer)
    // Jobs waiting for a retry keep their stored attempt and wait; the ready ones go back too.
    for (const timer of this.#timers) clearTimeout(timer)
    this.#timers.clear()
    this.#ready.length = 0
    await this.#claiming?.catch(() => {}) // a failed claim was reported where it ran
    if (!(await settledWithin([...this.#running.keys()], this.#options.closeWaitMs))) {
      for (const stop of this.#running.values()) stop.abort()
      await settledWithin([...this.#running.keys()], HAND_BACK_WAIT_MS)
    }
    // Everything this worker held is free for the others now, not when the leases end.
    await this.#store.jobs.release(this.#owner).catch(this.#options.onError)
  }

  /** Stores the turn's accepts in one transaction, then answers them and queues the jobs. */
  async #commit(): Promise<void> {
    const batch = this.#batch
    this.#batch = []
    // Accepted while closing: stored free, for another worker or the next start.
    const leaseUntil = this.#closed ? 0 : Date.now() + this.#leaseMs
    try {
      const rows: JobRow[] = batch.map(({ scope, job }) => ({ id: job.id, scope, doc: job as unknown as JobRow['doc'] }))
      await this.#store.jobs.insert(rows, this.#owner, leaseUntil)
    } catch (error) {
      for (const accepted of batch) accepted.failed(error)
      return
    }
    this.#options.metrics.accepted.value += batch.length
    for (const { scope, job, done } of batch) {
      done()
      if (!this.#closed) this.#ready.push({ scope, job })
    }
    this.#pump()
  }

  /** Takes free jobs while this worker has room for them. */
  #claim(): Promise<void> {
    if (this.#closed || this.#claiming) return this.#claiming ?? Promise.resolve()
    const room = this.#options.concurrency * 2 - this.#ready.length - this.#running.size
    if (room <= 0) return Promise.resolve()
    this.#claiming = (async () => {
      const now = Date.now()
      const rows = await this.#store.jobs.claim({
        owner: this.#owner,
        epoch: this.#options.epoch,
        now,
        leaseUntil: now + this.#leaseMs,
        limit: room,
      })
      for (const row of rows) this.#schedule({ scope: row.scope, job: row.doc as unknown as StoredJob })
      this.#pump()
    })().finally(() => {
      this.#claiming = undefined
    })
    return this.#claiming
  }

  /** Ready now, or when its retry wait ends. */
  #schedule(waiting: Waiting): void {
    const wait = (waiting.job.notBefore ?? 0) - Date.now()
    if (wait <= 0) {
      this.#ready.push(waiting)
      return
    }
    const timer = setTimeout(() => {
      this.#timers.delete(timer)
      this.#ready.push(waiting)
      this.#pump()
    }, wait)
    this.#timers.add(timer)
  }

  /** Removes a finished job, with the others finished in the same turn (one statement). */
  #remove(id: string): Promise<void> {
    return new Promise((done) => {
      if (this.#finished.length === 0) {
        setImmediate(() => {
          const finished = this.#finished
          this.#finished = []
          this.#store.jobs
            .remove(finished.map((job) => job.id))
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
      // A worker that throws has a bug; the job stays stored and runs again after its lease.
      this.#options.onError(error)
      return
    }
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
      const next: StoredJob = {
        id: job.id,
        payload: outcome.payload,
        attempt: job.attempt + 1,
        notBefore: Date.now() + outcome.retryInMs,
      }
      await this.#store.jobs.update({ id: job.id, scope, doc: next as unknown as JobRow['doc'] })
      if (!this.#closed) this.#schedule({ scope, job: next })
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
