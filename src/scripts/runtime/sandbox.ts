import ivm from 'isolated-vm'
import type { ExecutionScope, HostFunction, ScriptLogLevel } from './host-api.ts'

/** How one run in a sandbox ended, before the runtime turns it into an outcome. */
export type SandboxResult =
  | { readonly kind: 'ok'; readonly outputJson: string }
  | { readonly kind: 'error'; readonly message: string; readonly stack: string | undefined }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'aborted' }
  | { readonly kind: 'stopped'; readonly reason: string }

export interface SandboxOptions {
  readonly memoryMb: number
  /** Code of the prelude (guest-prelude.ts), evaluated once in the context. */
  readonly prelude: string
  /** Host functions by `<module>.<name>`. */
  readonly functions: ReadonlyMap<string, HostFunction>
  /** An isolate busy without a pause for this long is stopped (the CPU limit). */
  readonly cpuLimitMs: number
}

/** What ended a run first. */
type Ending =
  | { readonly end: 'returned'; readonly value: unknown }
  | { readonly end: 'threw'; readonly error: unknown }
  | { readonly end: 'timeout' | 'aborted' }
  | { readonly end: 'stopped'; readonly reason: string }

/** The message isolated-vm gives when `timeout` cuts a synchronous run. */
const SYNC_TIMEOUT = 'Script execution timed out.'
const WATCH_INTERVAL_MS = 100
const LEVELS: ReadonlySet<string> = new Set(['debug', 'info', 'warn', 'error'])

/**
 * One V8 isolate with one context holding one compiled script, kept warm between executions.
 * Executions of the script share it (their globals persist, as in other isolate platforms);
 * nothing else does. Host functions are reached through three references that the prelude keeps
 * in a closure; every argument and result is a copy.
 *
 * Only asynchronous isolated-vm calls are made on a loaded isolate: a synchronous one waits for
 * the isolate's lock, and an isolate stuck in a loop would block the whole process.
 */
export class Sandbox {
  readonly #isolate: ivm.Isolate
  readonly #context: ivm.Context
  readonly #setup: ivm.Reference
  readonly #options: SandboxOptions
  /** Runs in progress, by the id the guest passes back on host calls. */
  readonly #scopes: Map<number, ExecutionScope>
  #execute: ivm.Reference | undefined
  #nextId = 1
  /** Runs the runtime has chosen this sandbox for that have not started yet. */
  #reserved = 0
  #stopReason: string | undefined
  /** Settles when the sandbox stops: a run waiting on an isolate that died must not wait forever. */
  readonly #stopped: Promise<Ending>
  #announceStop: (ending: Ending) => void = () => {}
  #watch: NodeJS.Timeout | undefined
  #busySince: number | undefined
  #lastCpu = 0n
  #lastWall = 0
  #heapBytes = 0
  #measuredAt = 0

  private constructor(
    isolate: ivm.Isolate,
    context: ivm.Context,
    setup: ivm.Reference,
    scopes: Map<number, ExecutionScope>,
    options: SandboxOptions,
  ) {
    this.#isolate = isolate
    this.#context = context
    this.#setup = setup
    this.#scopes = scopes
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
      // Host functions go in as references (`arguments.reference`); the prelude hides them.
      const setup = (await context.evalClosure(
        options.prelude,
        [
          async (execId: unknown, name: unknown, args: unknown) => {
            const [scope, fn, list] = resolveCall(scopes, options.functions, execId, name, args, false)
            try {
              return await fn.run(scope, list)
            } catch (error) {
              throw guestError(error)
            }
          },
          (execId: unknown, name: unknown, args: unknown) => {
            const [scope, fn, list] = resolveCall(scopes, options.functions, execId, name, args, true)
            try {
              return fn.run(scope, list)
            } catch (error) {
              throw guestError(error)
            }
          },
          (execId: unknown, level: unknown, text: unknown) => {
            const scope = typeof execId === 'number' ? scopes.get(execId) : undefined
            if (scope && typeof level === 'string' && LEVELS.has(level) && typeof text === 'string') {
              scope.log(level as ScriptLogLevel, text)
            }
          },
        ],
        { arguments: { reference: true }, result: { reference: true } },
      )) as ivm.Reference
      return new Sandbox(isolate, context, setup, scopes, options)
    } catch (error) {
      isolate.dispose()
      throw error
    }
  }

  /** Compiles the wrapped script (script-source.ts) into this context. */
  async load(code: string): Promise<void> {
    const main = (await this.#context.eval(code, { reference: true, filename: 'svcscript' })) as ivm.Reference
    this.#execute = (await this.#setup.apply(undefined, [main.derefInto()], { result: { reference: true } })) as ivm.Reference
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
   * Runs the loaded script once. `timeoutMs` is the wall-clock limit: isolated-vm's own timeout
   * covers only the synchronous start, so a host timer ends the run; if the isolate is still
   * computing then (a loop after an await), the whole sandbox is stopped. `abort` ends the run
   * the same way, as `aborted`.
   */
  async run(scope: ExecutionScope, inputJson: string, timeoutMs: number, abort?: AbortSignal): Promise<SandboxResult> {
    const execute = this.#execute
    if (!execute) throw new Error('Sandbox.run before load')
    if (this.#reserved > 0) this.#reserved--
    if (this.stopped) return { kind: 'stopped', reason: this.#reason() }
    const execId = this.#nextId++
    this.#scopes.set(execId, scope)
    this.#startWatch()
    let timer: NodeJS.Timeout | undefined
    let onAbort: (() => void) | undefined
    const cut = new Promise<Ending>((resolve) => {
      timer = setTimeout(() => resolve({ end: 'timeout' }), timeoutMs)
      onAbort = () => resolve({ end: 'aborted' })
      if (abort?.aborted) onAbort()
      else abort?.addEventListener('abort', onAbort, { once: true })
    })
    const applied = execute
      .apply(undefined, [execId, inputJson], {
        arguments: { copy: true },
        result: { promise: true, copy: true },
        timeout: Math.max(1, Math.min(timeoutMs, this.#options.cpuLimitMs)),
      })
      .then(
        (value: unknown): Ending => ({ end: 'returned', value }),
        (error: unknown): Ending => ({ end: 'threw', error }),
      )
    try {
      // isolated-vm does not settle a pending call when it disposes an isolate that ran out of
      // memory; the watchdog notices the disposal and the stop ends the run instead.
      const ending = await Promise.race([applied, cut, this.#stopped])
      switch (ending.end) {
        case 'returned':
          return typeof ending.value === 'string'
            ? { kind: 'ok', outputJson: ending.value }
            : { kind: 'error', message: 'the script returned no output', stack: undefined }
        case 'timeout':
        case 'aborted':
          this.#checkStuck()
          return { kind: ending.end }
        case 'stopped':
          return { kind: 'stopped', reason: ending.reason }
      }
      if (this.stopped) return { kind: 'stopped', reason: this.#reason() }
      const { message, stack } = describe(ending.error)
      return message === SYNC_TIMEOUT ? { kind: 'timeout' } : { kind: 'error', message, stack }
    } finally {
      clearTimeout(timer)
      if (onAbort) abort?.removeEventListener('abort', onAbort)
      this.#scopes.delete(execId)
      this.#measureHeap()
    }
  }

  /** Stops the isolate: every run in it ends as `stopped` with `reason`. */
  stop(reason: string): void {
    if (this.#stopReason !== undefined) return
    this.#stopReason = reason
    clearInterval(this.#watch)
    this.#watch = undefined
    if (!this.#isolate.isDisposed) this.#isolate.dispose()
    this.#announceStop({ end: 'stopped', reason })
  }

  #reason(): string {
    // isolated-vm disposes an isolate by itself when it passes its memory limit.
    if (this.#stopReason === undefined) this.stop(`the script ran out of memory (limit ${this.#options.memoryMb} MB)`)
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

  /** After a timeout: if the isolate keeps computing for the next moment, it is stuck. */
  #checkStuck(): void {
    const cpu = this.#cpuTime()
    if (cpu === undefined) return
    setTimeout(() => {
      const later = this.#cpuTime()
      if (later === undefined) return void this.#reason()
      if (Number(later - cpu) / 1e6 > WATCH_INTERVAL_MS * 0.6) this.stop('the script kept running past its timeout')
    }, WATCH_INTERVAL_MS).unref()
  }

  /**
   * While runs are in flight: notices an isolate that isolated-vm disposed (memory), and stops one
   * that has been busy without a pause for `cpuLimitMs` (the CPU limit).
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
        if (this.#scopes.size === 0) {
          clearInterval(this.#watch)
          this.#watch = undefined
        }
        return
      }
      this.#busySince ??= now - WATCH_INTERVAL_MS
      if (now - this.#busySince >= this.#options.cpuLimitMs) {
        this.stop(`the script used more than ${this.#options.cpuLimitMs} ms of CPU without a pause`)
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
      },
      () => {},
    )
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
