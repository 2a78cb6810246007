/** One unit of accepted work, as the queue hands it to its worker. */
export interface Job<T> {
  readonly id: string
  /** The domain it belongs to. */
  readonly scope: string
  readonly payload: T
  /** 1 for the first run. */
  readonly attempt: number
}

/**
 * What a run of a job came to: finished (for good, either way), to be run again later, or
 * handed back: stopped by `close` (its `stop` signal), it stays stored as it was — not counted as
 * an attempt — and runs again at the next start.
 */
export type JobOutcome =
  | { readonly done: true }
  | { readonly retryInMs: number; readonly payload: unknown }
  | { readonly handedBack: true }

/**
 * Durable work: a job is stored before `enqueue` resolves, handed to the worker at least once,
 * and dropped when the worker says it is done. Jobs stored by an earlier run of the process (a
 * crash, a restart, a shutdown that handed them back) are picked up by `start`. Embedded:
 * `StoreJobQueue` on the store; cluster mode: `JetStreamJobQueue`.
 */
export interface JobQueue<T> {
  enqueue(scope: string, id: string, payload: T): Promise<void>
  /**
   * Begins handing jobs to `work`, the ones stored earlier first. `stop` aborts when `close`
   * gives up waiting for the run: the worker should end it and answer `handedBack`.
   */
  start(work: (job: Job<T>, stop: AbortSignal) => Promise<JobOutcome>): Promise<void>
  /**
   * Graceful stop: hands out no more jobs and waits (up to the queue's bound) for the running
   * ones; then aborts those still running and waits briefly for their workers to hand them back.
   * Every job not done stays stored for the next start. `enqueue` still stores while the server
   * drains (the HTTP server closes at the same time), for the next start or another node.
   * Idempotent.
   */
  close(): Promise<void>
  /**
   * A job stored and not done, by its id — when the queue can look one up (the embedded queue
   * can; a JetStream stream cannot). Undefined: not stored, done, or no lookup.
   */
  find?(scope: string, id: string): Promise<Job<T> | undefined>
}
