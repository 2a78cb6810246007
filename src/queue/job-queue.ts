/** One unit of accepted work, as the queue hands it to its worker. */
export interface Job<T> {
  readonly id: string
  /** The domain it belongs to. */
  readonly scope: string
  readonly payload: T
  /** 1 for the first run. */
  readonly attempt: number
}

/** What a run of a job came to: finished (for good, either way), or to be run again later. */
export type JobOutcome = { readonly done: true } | { readonly retryInMs: number; readonly payload: unknown }

/**
 * Durable work: a job is stored before `enqueue` resolves, handed to the worker at least once,
 * and dropped when the worker says it is done. Jobs stored by an earlier run of the process (a
 * crash, a restart) are picked up by `start`. Embedded: `StoreJobQueue` on the store; cluster
 * mode will add one on JetStream.
 */
export interface JobQueue<T> {
  enqueue(scope: string, id: string, payload: T): Promise<void>
  /** Begins handing jobs to `work`, the ones stored earlier first. */
  start(work: (job: Job<T>) => Promise<JobOutcome>): Promise<void>
  /** Stops handing out jobs and waits (briefly) for those running; unfinished ones stay stored. */
  close(): Promise<void>
}
