import type { Registry } from 'prom-client'
import { counter, type Series } from './metric-families.ts'

/**
 * Where an error that no caller sees was caught (the `source` label). Each one is also logged at
 * error with its details; the counter lets an alert fire without a log search. Add a source here
 * when a new sink arises (the set must stay small: it is a label). Execution records have
 * counters of their own (ExecutionMetrics: writes failed, records dropped).
 *
 * - `background`: a timer's work (retention, purges, the queue's workers, push delivery);
 * - `bus_handler`: a handler of a bus message threw;
 * - `ws_handler`: a websocket frame's handler failed with a server error (a bug: the client got 1500);
 * - `store_pool`: an idle PostgreSQL connection of the pool failed;
 * - `script_host`: a script host process could not be started, signalled or written to;
 * - `isolate_heap`: measuring an isolate's heap failed while the isolate was alive;
 * - `trace_export`: spans could not be sent to the OTLP endpoint (a worker's or a script host's).
 */
const ERROR_SOURCES = [
  'background',
  'bus_handler',
  'ws_handler',
  'store_pool',
  'script_host',
  'isolate_heap',
  'trace_export',
] as const
export type ErrorSource = (typeof ERROR_SOURCES)[number]

/** `switchboard_errors_total{source}`: every series exists from the start, so a rate is defined before the first error. */
export class ErrorMetrics {
  readonly #bySource: Readonly<Record<ErrorSource, Series>>

  constructor(registry: Registry) {
    const family = counter(registry, {
      name: 'switchboard_errors_total',
      help: 'Errors the server logged without a caller to tell, by where they were caught',
      labelNames: ['source'],
    })
    this.#bySource = Object.fromEntries(ERROR_SOURCES.map((source) => [source, family.series(source)])) as Record<
      ErrorSource,
      Series
    >
  }

  /** The series of one source, for a hot path that keeps it. */
  series(source: ErrorSource): Series {
    return this.#bySource[source]
  }

  count(source: ErrorSource): void {
    this.#bySource[source].value++
  }
}
