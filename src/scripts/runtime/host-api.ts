import type { Channel } from '../../channels/channel-schemas.ts'
import type { Actor } from '../../collections/collection.ts'
import type { TraceCarrier } from '../../tracing/tracing.ts'

export type ScriptLogLevel = 'debug' | 'info' | 'warn' | 'error'

/**
 * What a host function knows about the execution that called it. Host functions get copies of
 * the guest's arguments only, and must check them: the guest is untrusted code.
 */
export interface ExecutionScope {
  readonly executionId: string
  readonly domainId: string
  /** The channel the execution belongs to (without its token_local), or null. */
  readonly channel: Channel | null
  /**
   * The channel's type allows `http.request` only with paths relative to the channel's `url`
   * (`relative_urls_only`, SPEC §3.1). Absent: false.
   */
  readonly relativeUrlsOnly?: boolean
  /**
   * Who started the run, when that is not the channel: the caller of the run endpoint. Calls
   * the script makes to the project API act with the caller's rights then. Only known in the
   * main process.
   */
  readonly caller?: Actor
  readonly scriptCode: string
  /** How many executions led to this one (channels.send, api.request, pushes); 0: a trigger started it. */
  readonly depth: number
  /** The request that caused the execution (outbound calls carry it as X-Request-Id), or null. */
  readonly requestId: string | null
  /**
   * With tracing on, the run's span: the parent of the spans its host functions make
   * (`http.request`, `channels.send`). In a worker it is the span itself; in a script host, the
   * run's trace context as the worker sent it. Absent: tracing is off.
   */
  readonly trace?: TraceCarrier
  /** A webhook's body as received, for `request.rawBody` (read only when the script asks). */
  readonly rawBody?: Uint8Array
  /** The script's log level (`opts.loglevel`): lower lines are not kept. */
  readonly logLevel: ScriptLogLevel
  /** Aborted when the execution ends (done, timed out, aborted): host work should stop. */
  readonly signal: AbortSignal
  /**
   * Appends a line to the execution log (its producer applies the level and the limits). `ms`:
   * when it was written, in ms since the run started, if the producer timed it (the isolate
   * does); else it is timed on arrival.
   */
  log(level: ScriptLogLevel, text: string, ms?: number): void
}

/**
 * The end of an execution as an AbortSignal for host functions, made only when one asks for it:
 * creating and aborting a signal (its DOMException) for every execution cost more than a whole
 * script run (profiled in a script host).
 */
export class ExecutionEnd {
  #controller: AbortController | undefined
  #ended = false

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController()
      if (this.#ended) this.#controller.abort(ENDED_REASON)
    }
    return this.#controller.signal
  }

  end(): void {
    this.#ended = true
    this.#controller?.abort(ENDED_REASON)
  }
}

/** The abort reason: a plain value, so no DOMException (and its stack) is made. */
const ENDED_REASON = 'the execution ended'

/** A host function a script may call, by `<module>.<name>`. */
export interface HostFunction {
  /** Runs synchronously in the guest's call (crypto); otherwise the guest gets a promise. */
  readonly sync?: boolean
  run(scope: ExecutionScope, args: readonly unknown[]): unknown
}

/**
 * One piece of the script API (SPEC §4): its name in the script's scope, the guest-side
 * JavaScript that builds the value the script sees, and the host functions that code calls.
 * Later capabilities (channels.send, ws.send, events.emit, files.*, api.request) are each one
 * more module; the runtime does not change.
 */
export interface HostModule {
  /** The identifier scripts use: `http`, `crypto`, `sleep`, … */
  readonly name: string
  /**
   * A JavaScript function expression `(call, callSync, tools) => value`, evaluated inside the
   * isolate once per execution. `call(name, ...args)` returns a promise of the host function
   * `<module>.<name>`'s result; `callSync` returns it directly. `tools` holds the prelude's
   * untampered `parse` and `stringify`.
   */
  readonly guest: string
  readonly functions: Readonly<Record<string, HostFunction>>
}

/** The message of an error a host function throws to the script. */
export class ScriptApiError extends Error {
  override readonly name = 'ScriptApiError'
}
