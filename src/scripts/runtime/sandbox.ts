import ivm from 'isolated-vm'
import { LOG_LEVELS } from './guest-prelude.ts'
import type { ExecutionScope, HostFunction } from './host-api.ts'
import type { RunInput } from './script-runtime.ts'

/** How one run in a sandbox ended, before the runtime turns it into an outcome. */
export type SandboxResult =
  /**
   * `output`: the script's variables as JSON data (a Uint8Array as `{"$bytes": base64}`), and as
   * the JSON text they came in (the record keeps it as it is).
   */
  | { readonly kind: 'ok'; readonly output: Record<string, unknown>; readonly outputJson: string }
  /** The input's `body` is not valid JSON (V8's message): nothing of the script ran. */
  | { readonly kind: 'bad_input'; readonly message: string }
  | { readonly kind: 'error'; readonly message: string; readonly stack: string | undefined }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'aborted' }
  | { readonly kind: 'stopped'; readonly reason: string }
  /**
   * A synchronous run cut at SYNC_SLICE_MS before its outcome: nothing of it left the isolate
   * (its host calls are refused), so it can run again from its start, asynchronously. `spun`: it
   * used the slice's CPU (a loop); else the thread was only descheduled (a loaded machine).
   */
  | { readonly kind: 'retry'; readonly spun: boolean }

/** Why a sandbox's isolate was disposed (a metric label: keep the set small). */
export type StopCause = 'evicted' | 'memory' | 'cpu' | 'timeout' | 'load_failed' | 'shutdown'

export interface SandboxOptions {
  readonly memoryMb: number
  /** Code of the prelude (guest-prelude.ts), evaluated once in the context. */
  readonly prelude: string
  /** Host functions by `<module>.<name>`. */
  readonly functions: ReadonlyMap<string, HostFunction>
  /** An isolate busy without a pause for this long is stopped (the CPU limit). */
  readonly cpuLimitMs: number
  /** Told once, when the isolate is disposed. */
  readonly onStop?: (cause: StopCause) => void
  /** Told of a failure in the sandbox's own work, not the script's (measuring the heap): for the log and the metrics. */
  readonly onError: (error: unknown) => void
}

/** What ended the wait for an asynchronous run first. */
type Ending =
  | { readonly end: 'returned' }
  | { readonly end: 'timeout' | 'aborted' }
  | { readonly end: 'stopped'; readonly reason: string }

/** Log lines from the guest: level rank, text, level rank, text, … */
type LogLines = readonly (number | string)[]

/**
 * The guest's outcome of one execution (guest-prelude.ts), with its duration as it saw it, ms:
 * done, failed, or refused (3: the body is not JSON).
 */
type Outcome =
  | readonly [1, string, LogLines, number]
  | readonly [2, string, LogLines, number, string | undefined]
  | readonly [3, string, LogLines, number]

/** The message isolated-vm gives when `timeout` cuts a synchronous run. */
const SYNC_TIMEOUT = 'Script execution timed out.'
const WATCH_INTERVAL_MS = 100
/** Runs of a script that must finish within QUICK_RUN_MS before it runs synchronously. */
const QUICK_RUNS_BEFORE_SYNC = 3
const QUICK_RUN_MS = 5
/** A synchronous run slower than this sends the sandbox back to asynchronous calls for good. */
const SLOW_RUN_MS = 20
/**
 * The longest a synchronous call may hold the thread (and every request of the worker behind
 * it): a proven-quick script that starts to spin is cut here and run again asynchronously.
 */
export const SYNC_SLICE_MS = 50
/** How much later than isolated-vm's timeout the host's timer ends a run. */
const TIMEOUT_GRACE_MS = 100
/** How long the log of a run that timed out is waited for. */
const DROP_WAIT_MS = 50
const LOG_RANK: Readonly<Record<string, number>> = Object.fromEntries(LOG_LEVELS.map((level, rank) => [level, rank]))

/**
 * One V8 isolate with one context holding one compiled script, kept warm between executions.
 * Executions of the script share it (their globals persist, as in other isolate platforms);
 * nothing else does. Host functions are reached through three references that the prelude keeps
 * in a closure; every argument and result is a copy.
 *
 * Synchronous isolated-vm calls are made only on an idle isolate (see `run`): a synchronous
 * call waits for the isolate's lock, and an isolate stuck in a loop would block the process.
 */
export class Sandbox {
  readonly #isolate: ivm.Isolate
  readonly #context: ivm.Context
  readonly #setup: ivm.Reference
  readonly #options: SandboxOptions
  /** Runs in progress, by the id the guest passes back on host calls. */
  readonly #scopes: Map<number, ExecutionScope>
  /** Executions waiting for the guest's `finished` call, by id. */
  readonly #waiting: Map<number, () => void>
  /**
   * Executions in their asynchronous part: started with an asynchronous call, or waiting for the
   * guest. The isolate may be busy while there is one.
   */
  #asyncRuns = 0
  /** Quick runs so far (see `run`); -1 once a run was slow: no synchronous calls any more. */
  #quickRuns = 0
  /** Runs waiting for the asynchronous ones to finish before they run synchronously. */
  #idleWaiters: (() => void)[] = []
  /** The guest's entry point: (op, execId, arg) with op 0 start, 1 take, 2 drop. */
  #entry: ivm.Reference | undefined
  #nextId = 1
  /** Runs the runtime has chosen this sandbox for that have not started yet. */
  #reserved = 0
  #stopReason: string | undefined
  #stopCause: StopCause | undefined
  #stopListener: ((cause: StopCause, reason: string) => void) | undefined
  /** Settles when the sandbox stops: a run waiting on an isolate that died must not wait forever. */
  readonly #stopped: Promise<Ending>
  #announceStop: (ending: Ending) => void = () => {}
  #watch: NodeJS.Timeout | undefined
  #busySince: number | undefined
  #lastCpu = 0n
  #lastWall = 0
  #heapBytes = 0
  // -Infinity: the first run measures, even in a process younger than a second (performance.now() starts at 0).
  #measuredAt = Number.NEGATIVE_INFINITY

  private constructor(
    isolate: ivm.Isolate,
    context: ivm.Context,
    setup: ivm.Reference,
    scopes: Map<number, ExecutionScope>,
    waiting: Map<number, () => void>,
    options: SandboxOptions,
  ) {
    this.#isolate = isolate
    this.#context = context
    this.#setup = setup
    this.#scopes = scopes
    this.#waiting = waiting
    this.#options = options
    this.#stopped = new Promise((resolve) => {
      this.#announceStop = resolve
    })
  }

  /** A new isolate with the prelude installed, ready to `load` a script. */
  static async create(options: SandboxOptions): Promise<Sandbox> {
    const isolate = new ivm.Isolate({ memoryLimit: options.memoryMb })
    try {
      const context = await isolate.createContext()
      const scopes = new Map<number, ExecutionScope>()
      const waiting = new Map<number, () => void>()
      // Host functions go in as references (`arguments.reference`); the prelude hides them.
      const setup = (await context.evalClosure(
        options.prelude,
        [
          (execId: unknown, name: unknown, args: unknown) => {
            const call = (async () => {
              const [scope, fn, list] = resolveCall(scopes, options.functions, execId, name, args, false)
              try {
                return await fn.run(scope, list)
              } catch (error) {
                throw guestError(error)
              }
            })()
            // The failure is the script's to handle: isolated-vm hands it to the guest, but takes
            // the promise only after Node has looked for unhandled rejections.
            call.catch(() => {})
            return call
          },
          (execId: unknown, name: unknown, args: unknown) => {
            const [scope, fn, list] = resolveCall(scopes, options.functions, execId, name, args, true)
            try {
              return fn.run(scope, list)
            } catch (error) {
              throw guestError(error)
            }
          },
          (execId: unknown, lines: unknown) => {
            const scope = typeof execId === 'number' ? scopes.get(execId) : undefined
            if (scope && Array.isArray(lines)) deliverLogs(scope, lines)
          },
          (execId: unknown) => {
            if (typeof execId === 'number') waiting.get(execId)?.()
          },
        ],
        { arguments: { reference: true }, result: { reference: true } },
      )) as ivm.Reference
      // A spare should run its first script at full speed: compile the prelude's functions now.
      await context.eval('__warm()')
      return new Sandbox(isolate, context, setup, scopes, waiting, options)
    } catch (error) {
      isolate.dispose()
      throw error
    }
  }

  /**
   * Compiles the wrapped script (script-source.ts) into this context. Synchronous calls: the
   * sandbox is fresh and idle, and a changed script's first run waits on this.
   */
  load(code: string, used: readonly boolean[]): void {
    const main = this.#context.evalSync(code, { reference: true, filename: 'svcscript' }) as ivm.Reference
    this.#entry = this.#setup.applySync(undefined, [main.derefInto(), [...used]], {
      arguments: { copy: true },
      result: { reference: true },
    }) as ivm.Reference
  }

  /** Runs in progress or about to start here. */
  get inFlight(): number {
    return this.#scopes.size + this.#reserved
  }

  /** Counts a run that is about to start, so concurrent choices see this sandbox as busier. */
  reserve(): void {
    this.#reserved++
  }

  get stopped(): boolean {
    return this.#stopReason !== undefined || this.#isolate.isDisposed
  }

  /** Bytes of the isolate's heap in use as of the last measurement (taken after runs). */
  heapBytes(): number {
    return this.stopped ? 0 : this.#heapBytes
  }

  /**
   * Runs the loaded script once. `timeoutMs` is the wall-clock limit; `abort` ends the run as
   * `aborted`. A script that finishes without waiting on a host call (most do) runs in one or
   * two synchronous calls (`start`, then `take` if it used `await`): no thread hand-offs, about
   * 8 µs measured against 28 µs for an asynchronous call. One that waits is finished
   * asynchronously: the guest calls back, a host timer ends it at its timeout, and if the isolate
   * is still computing then (a loop after an await) the whole sandbox is stopped.
   *
   * A synchronous call blocks this thread, and with it every other sandbox of the process, until
   * the script returns. So the synchronous path is earned: taken only once the script has
   * finished QUICK_RUNS_BEFORE_SYNC runs quickly, and lost for good by a slow run or a timeout
   * (a loop stalls the process once at most). And it is taken only while no execution of this
   * sandbox is in its asynchronous part: the isolate is then idle, so the calls do not wait for
   * its lock.
   */
  async run(
    scope: ExecutionScope,
    input: RunInput,
    timeoutMs: number,
    abort: AbortSignal | undefined,
    mayRunSync: boolean,
  ): Promise<SandboxResult> {
    const entry = this.#entry
    if (!entry) throw new Error('Sandbox.run before load')
    if (this.#reserved > 0) this.#reserved--
    if (this.stopped) return this.#notStarted()
    const execId = this.#nextId++
    this.#scopes.set(execId, scope)
    const began = performance.now()
    const start = [0, execId, input.json, LOG_RANK[scope.logLevel] ?? 0, input.body]
    const startOptions = {
      arguments: { copy: true as const },
      result: { copy: true as const },
      timeout: Math.max(1, Math.min(timeoutMs, this.#options.cpuLimitMs)),
    }
    try {
      // A proven-quick script waits for the asynchronous runs still in flight (its first ones,
      // or those that started before it was proven) instead of joining them: under steady load
      // there would always be one, and it would never run synchronously.
      while (mayRunSync && this.#quickRuns >= QUICK_RUNS_BEFORE_SYNC && this.#asyncRuns > 0 && !this.stopped) {
        await new Promise<void>((resolve) => this.#idleWaiters.push(resolve))
      }
      if (this.stopped) return this.#notStarted()
      let outcome: Outcome | SandboxResult | undefined
      const sync = mayRunSync && this.#quickRuns >= QUICK_RUNS_BEFORE_SYNC
      let waited = false
      // A synchronous run's CPU time: what the script used, not how long a loaded machine kept
      // this thread waiting (which would count in a wall-clock measure and demote a quick script).
      let cpuMs: number | undefined
      if (sync) {
        const sliced = timeoutMs > SYNC_SLICE_MS
        // The isolate's own CPU clock (a counter read, ~0.1 µs; the thread's getrusage was 1.4 µs).
        const wallBefore = performance.now()
        const cpuBefore = this.#cpuTime() ?? 0n
        try {
          outcome = entry.applySync(undefined, start, {
            ...startOptions,
            timeout: Math.min(startOptions.timeout, SYNC_SLICE_MS),
          }) as Outcome | undefined
          outcome ??= entry.applySync(undefined, [1, execId, true], { result: { copy: true } }) as Outcome | undefined
        } catch (error) {
          outcome = this.#failed(error)
          if (outcome.kind === 'timeout' && sliced) {
            // Cut at the slice, not at its timeout. Its scope goes before this thread returns to
            // the event loop (finally, below), so host calls it made are refused when they arrive:
            // nothing of the run left the isolate, and it can run again from the start.
            this.#forgetSync(execId)
            return { kind: 'retry', spun: this.#cpuMsSince(cpuBefore) >= SYNC_SLICE_MS / 2 }
          }
          // A call cut by its timeout leaves the isolate idle: fetch the run's log.
          if (outcome.kind === 'timeout') this.#dropSync(scope, execId)
        }
        // The wall time bounds the CPU: asked for only when the wall time says it may matter.
        const wall = performance.now() - wallBefore
        cpuMs = wall <= QUICK_RUN_MS ? wall : this.#cpuMsSince(cpuBefore)
      }
      if (outcome === undefined) {
        // Started synchronously, it now waits on a host call: this script is not one for the
        // synchronous path (runs queued behind the wait would stall).
        if (sync) this.#demote()
        this.#asyncRuns++
        try {
          const flags = { waited: sync }
          outcome = await this.#runAsync(scope, execId, sync ? undefined : { args: start, options: startOptions }, {
            remainingMs: Math.max(1, timeoutMs - (performance.now() - began)),
            abort,
            flags,
          })
          waited = flags.waited
        } finally {
          this.#asyncRuns--
          if (this.#asyncRuns === 0) this.#wakeIdleWaiters()
        }
      }
      if (!isOutcome(outcome)) {
        if (outcome.kind === 'timeout' || outcome.kind === 'aborted') this.#demote()
        return outcome
      }
      // Slow is judged on synchronous runs only, by the isolate's CPU: an asynchronous run's time
      // as the script saw it counts every moment a loaded machine kept its thread waiting (measured:
      // 27-52 ms for a 20 µs script at a load average of 25), which would send a quick script to the
      // slow path for good. Quick is counted on the script's own measure, which load only delays.
      if (waited || (cpuMs !== undefined && cpuMs > SLOW_RUN_MS)) this.#demote()
      else if ((cpuMs ?? outcome[3]) <= QUICK_RUN_MS && this.#quickRuns >= 0) this.#quickRuns++
      deliverLogs(scope, outcome[2])
      if (outcome[0] === 1)
        return { kind: 'ok', output: JSON.parse(outcome[1]) as Record<string, unknown>, outputJson: outcome[1] }
      if (outcome[0] === 3) return { kind: 'bad_input', message: outcome[1] }
      return { kind: 'error', message: outcome[1], stack: outcome[4] }
    } finally {
      this.#scopes.delete(execId)
      this.#measureHeap()
    }
  }

  /** A run that found the sandbox stopped before it started. */
  #notStarted(): SandboxResult {
    return { kind: 'stopped', reason: this.#reason() }
  }

  /** No synchronous calls for this script any more; runs waiting to make one go ahead. */
  #demote(): void {
    this.#quickRuns = -1
    this.#wakeIdleWaiters()
  }

  #wakeIdleWaiters(): void {
    const waiters = this.#idleWaiters
    this.#idleWaiters = []
    for (const wake of waiters) wake()
  }

  /**
   * The asynchronous part of a run: its start (unless the synchronous path made it), then the
   * wait for the guest's callback. The timeout, an abort and the sandbox's stop race every step:
   * a call queued behind a spinning isolate would never be answered, and isolated-vm leaves a
   * call pending when it disposes an isolate that ran out of memory.
   */
  async #runAsync(
    scope: ExecutionScope,
    execId: number,
    start: { args: unknown[]; options: ivm.ReferenceApplyOptions } | undefined,
    limits: { remainingMs: number; abort: AbortSignal | undefined; flags: { waited: boolean } },
  ): Promise<Outcome | SandboxResult> {
    const entry = this.#entry as ivm.Reference
    this.#startWatch()
    let timer: NodeJS.Timeout | undefined
    let onAbort: (() => void) | undefined
    const ended = new Promise<Ending>((resolve) => {
      this.#waiting.set(execId, () => resolve({ end: 'returned' }))
      // A moment after isolated-vm's own timeout, which cuts a start that never yields more
      // cleanly (the isolate is then idle, and the run's log can be fetched).
      timer = setTimeout(() => resolve({ end: 'timeout' }), limits.remainingMs + TIMEOUT_GRACE_MS)
      onAbort = () => resolve({ end: 'aborted' })
      if (limits.abort?.aborted) onAbort()
      else limits.abort?.addEventListener('abort', onAbort, { once: true })
    })
    // A call's answer, or what ended the run first.
    const step = async (call: Promise<unknown>): Promise<Outcome | Ending | undefined> => {
      const answer = await Promise.race([call, ended, this.#stopped])
      return answer as Outcome | Ending | undefined
    }
    try {
      let answer: Outcome | Ending | undefined
      try {
        if (start) answer = await step(entry.apply(undefined, start.args, start.options))
        answer ??= await step(entry.apply(undefined, [1, execId, true], { result: { copy: true } }))
        if (answer === undefined) {
          limits.flags.waited = true
          answer = await step(new Promise(() => {}))
        }
        if (isEnding(answer) && answer.end === 'returned') {
          // The outcome is there: only a stop can come first now.
          const take = entry.apply(undefined, [1, execId, false], { result: { copy: true } })
          answer = (await Promise.race([take, this.#stopped])) as Outcome | Ending | undefined
        }
      } catch (error) {
        const failed = this.#failed(error)
        // A call cut by its timeout leaves the isolate idle: fetch the run's log.
        if (failed.kind === 'timeout') await this.#drop(scope, execId)
        return failed
      }
      if (!isEnding(answer)) return answer as Outcome
      switch (answer.end) {
        case 'stopped':
          return { kind: 'stopped', reason: answer.reason }
        case 'timeout':
        case 'aborted':
          // The isolate may be stuck in a loop: no call that waits for it. Lines the run logged
          // since its last host call are lost; those before it were delivered then.
          entry.applyIgnored(undefined, [2, execId])
          this.#checkStuck()
          return { kind: answer.end }
        default:
          return { kind: 'error', message: 'the script ended without an outcome', stack: undefined }
      }
    } finally {
      clearTimeout(timer)
      if (onAbort) limits.abort?.removeEventListener('abort', onAbort)
      this.#waiting.delete(execId)
    }
  }

  /**
   * After isolated-vm's timeout cut a run's call: tells the guest to forget the run, and delivers
   * the log lines it left. Another run may hold the isolate: the lines are waited for briefly.
   */
  async #drop(scope: ExecutionScope, execId: number): Promise<void> {
    const dropped = (this.#entry as ivm.Reference).apply(undefined, [2, execId], { result: { copy: true } }).then(
      (lines: unknown) => (Array.isArray(lines) ? lines : []),
      () => [],
    )
    let wait: NodeJS.Timeout | undefined
    const lines = await Promise.race([
      dropped,
      new Promise<[]>((resolve) => {
        wait = setTimeout(() => resolve([]), DROP_WAIT_MS)
      }),
    ])
    clearTimeout(wait)
    deliverLogs(scope, lines)
  }

  /** `#drop` on an idle isolate, after a synchronous call was cut by its timeout. */
  #dropSync(scope: ExecutionScope, execId: number): void {
    try {
      const lines = (this.#entry as ivm.Reference).applySync(undefined, [2, execId], { result: { copy: true } })
      if (Array.isArray(lines)) deliverLogs(scope, lines)
    } catch {
      // The isolate is gone or refused; the run's log ends where it was.
    }
  }

  /** Tells an idle isolate to forget a run that will run again: its log lines are not wanted. */
  #forgetSync(execId: number): void {
    try {
      ;(this.#entry as ivm.Reference).applySync(undefined, [2, execId])
    } catch {
      // The isolate is gone: nothing of the run is left in it.
    }
  }

  /** A synchronous call threw: the timeout cut it, the isolate died, or isolated-vm refused. */
  #failed(error: unknown): SandboxResult {
    if (this.stopped) return { kind: 'stopped', reason: this.#reason() }
    const { message, stack } = describe(error)
    return message === SYNC_TIMEOUT ? { kind: 'timeout' } : { kind: 'error', message, stack }
  }

  /** `listener` is told once, when the sandbox stops (at once if it has). */
  onStopped(listener: (cause: StopCause, reason: string) => void): void {
    if (this.#stopCause !== undefined) listener(this.#stopCause, this.#stopReason as string)
    else this.#stopListener = listener
  }

  /** Stops the isolate: every run in it ends as `stopped` with `reason`. */
  stop(cause: StopCause, reason: string): void {
    if (this.#stopReason !== undefined) return
    this.#stopReason = reason
    this.#stopCause = cause
    this.#options.onStop?.(cause)
    this.#stopListener?.(cause, reason)
    clearInterval(this.#watch)
    this.#watch = undefined
    if (!this.#isolate.isDisposed) this.#isolate.dispose()
    this.#announceStop({ end: 'stopped', reason })
    this.#wakeIdleWaiters()
  }

  #reason(): string {
    // isolated-vm disposes an isolate by itself when it passes its memory limit.
    if (this.#stopReason === undefined) this.stop('memory', `the script ran out of memory (limit ${this.#options.memoryMb} MB)`)
    return this.#stopReason as string
  }

  /** CPU time of the isolate, or undefined once it is gone (reading it then throws). */
  #cpuTime(): bigint | undefined {
    if (this.#isolate.isDisposed) return undefined
    try {
      return this.#isolate.cpuTime
    } catch {
      return undefined
    }
  }

  /** The isolate's CPU time since `before` (a #cpuTime() reading), ms; 0 once it is gone. */
  #cpuMsSince(before: bigint): number {
    const now = this.#cpuTime()
    return now === undefined ? 0 : Number(now - before) / 1e6
  }

  /** After a timeout: if the isolate keeps computing for the next moment, it is stuck. */
  #checkStuck(): void {
    const cpu = this.#cpuTime()
    if (cpu === undefined) return
    setTimeout(() => {
      const later = this.#cpuTime()
      if (later === undefined) return void this.#reason()
      if (Number(later - cpu) / 1e6 > WATCH_INTERVAL_MS * 0.6) this.stop('timeout', 'the script kept running past its timeout')
    }, WATCH_INTERVAL_MS).unref()
  }

  /**
   * While runs wait on the isolate: notices an isolate that isolated-vm disposed (memory), and
   * stops one that has been busy without a pause for `cpuLimitMs` (the CPU limit).
   */
  #startWatch(): void {
    if (this.#watch !== undefined || this.stopped) return
    this.#lastCpu = this.#cpuTime() ?? 0n
    this.#lastWall = performance.now()
    this.#busySince = undefined
    this.#watch = setInterval(() => {
      const cpu = this.#cpuTime()
      if (cpu === undefined) return void this.#reason()
      const now = performance.now()
      const busy = Number(cpu - this.#lastCpu) / 1e6 >= (now - this.#lastWall) * 0.8
      this.#lastCpu = cpu
      this.#lastWall = now
      if (!busy) {
        this.#busySince = undefined
        if (this.#asyncRuns === 0) {
          clearInterval(this.#watch)
          this.#watch = undefined
        }
        return
      }
      this.#busySince ??= now - WATCH_INTERVAL_MS
      if (now - this.#busySince >= this.#options.cpuLimitMs) {
        this.stop('cpu', `the script used more than ${this.#options.cpuLimitMs} ms of CPU without a pause`)
      }
    }, WATCH_INTERVAL_MS)
    this.#watch.unref()
  }

  /** Heap use, measured asynchronously at most once a second (the sync call could block). */
  #measureHeap(): void {
    const now = performance.now()
    if (now - this.#measuredAt < 1000 || this.stopped) return
    this.#measuredAt = now
    this.#isolate.getHeapStatistics().then(
      (stats) => {
        this.#heapBytes = stats.used_heap_size + stats.externally_allocated_size
        // Memory outside the heap (array buffers, WebAssembly memory when enabled) is not bound
        // by V8's heap limit: past the isolate's limit, it is stopped as if it ran out of heap.
        if (this.#heapBytes > this.#options.memoryMb * 1024 * 1024) {
          this.stop('memory', `the script ran out of memory (limit ${this.#options.memoryMb} MB)`)
        }
      },
      (error: unknown) => {
        // Disposed meanwhile (stopped, evicted): there is no heap left to measure.
        if (!this.stopped) this.#options.onError(error)
      },
    )
  }
}

function isOutcome(value: Outcome | SandboxResult): value is Outcome {
  return Array.isArray(value)
}

function isEnding(value: unknown): value is Ending {
  return typeof value === 'object' && value !== null && 'end' in value
}

/** Hands the guest's log lines (rank, text, ms since the start, …) to the execution's log. */
function deliverLogs(scope: ExecutionScope, lines: readonly unknown[]): void {
  for (let i = 0; i + 2 < lines.length; i += 3) {
    const level = LOG_LEVELS[lines[i] as number]
    const text = lines[i + 1]
    const ms = lines[i + 2]
    if (level !== undefined && typeof text === 'string') scope.log(level, text, typeof ms === 'number' ? ms : undefined)
  }
}

/** The scope, function and arguments of a host call from the guest; throws for anything else. */
function resolveCall(
  scopes: ReadonlyMap<number, ExecutionScope>,
  functions: ReadonlyMap<string, HostFunction>,
  execId: unknown,
  name: unknown,
  args: unknown,
  sync: boolean,
): [ExecutionScope, HostFunction, unknown[]] {
  const scope = typeof execId === 'number' ? scopes.get(execId) : undefined
  if (!scope) throw guestError('the execution is over')
  const fn = typeof name === 'string' ? functions.get(name) : undefined
  if (!fn || Boolean(fn.sync) !== sync || !Array.isArray(args))
    throw guestError(`${String(name)} is not a function of the script API`)
  return [scope, fn, args]
}

/** An error for the guest: the message only, never a host stack (it would show host paths). */
function guestError(cause: unknown): Error {
  const message = cause instanceof Error ? cause.message : String(cause)
  const error = new Error(message)
  error.stack = `Error: ${message}`
  return error
}

function describe(error: unknown): { message: string; stack: string | undefined } {
  if (error instanceof Error) return { message: error.message, stack: error.stack }
  return { message: typeof error === 'string' ? error : (JSON.stringify(error) ?? String(error)), stack: undefined }
}
