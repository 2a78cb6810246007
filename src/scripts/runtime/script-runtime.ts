import { hash } from 'node:crypto'
import type { ScriptRunner } from '../script-runner.ts'
import { guestPrelude, type PreludeLimits, scriptParameters } from './guest-prelude.ts'
import type { ExecutionScope, HostFunction, HostModule } from './host-api.ts'
import { Sandbox, type SandboxResult, type StopCause } from './sandbox.ts'
import { namesUsed, type ScriptLang, SourceChecker, type SourceProblem, wrapSource } from './script-source.ts'

export interface RuntimeOptions {
  /** Memory limit of one isolate. */
  readonly memoryMb: number
  /** An isolate busy without a pause for this long is stopped. */
  readonly cpuLimitMs: number
  /** Most isolates alive at once; the least recently used script's are dropped first. */
  readonly maxIsolates: number
  /** Most heap, in bytes, over all isolates, before the least recently used are dropped. */
  readonly maxHeapBytes: number
  /** Isolates a busy script may get, so several cores serve it. */
  readonly isolatesPerScript: number
  /** Runs one isolate takes at once (most of them wait on host calls); more wait in a queue. */
  readonly maxInFlightPerIsolate: number
  /** Runs that may wait for a script's isolates; past that, a run is refused (`busy`). */
  readonly maxQueuedPerScript: number
  readonly modules: readonly HostModule[]
  readonly limits: PreludeLimits
  /** WebAssembly in the isolates (SPEC §13: off unless enabled). */
  readonly wasm: boolean
  /**
   * An isolate of `script` was stopped at its memory limit. V8 may not have stopped it (a review
   * saw such an isolate keep allocating after isolated-vm disposed it): the process that ran it
   * is tainted (DESIGN §1.1). The runs that ended with it wait for the promise it returns (the
   * quarantine written), so the next run of the script, anywhere, already sees it. Default: nothing.
   */
  readonly onTainted?: (script: RunnableScript, reason: string) => Promise<void> | undefined
  /** A failure of the runtime's own work, not a script's (an isolate's heap could not be measured). */
  readonly onError: (error: unknown) => void
}

/** The script to run: what the collection stores. The object is the cache key of its compiled form. */
export interface RunnableScript {
  /** The script's id: two scripts never share an isolate (and its globals), even with one source. */
  readonly id: string
  readonly lang: ScriptLang
  readonly source: string
  /** Set when this version held an isolate V8 could not stop: it runs in script hosts only (SPEC §13). */
  readonly quarantined?: unknown
}

/** `request.rawBody`: the webhook's bytes as base64, made only when a script reads it. */
const RAW_BODY: HostFunction = {
  sync: true,
  run: (scope) => (scope.rawBody === undefined ? '' : Buffer.from(scope.rawBody).toString('base64')),
}

/** What names a script version's isolates: its id and its code. */
export function scriptVersionKey(script: RunnableScript): string {
  return hash('sha256', `${script.id}\u0000${script.lang}\u0000${script.source}`, 'hex')
}

/**
 * What a run gets: `{startparams, request, channel, startparamAliases?, rawBody?}` as JSON text,
 * built once by the trigger. `startparamAliases` names start parameters (0-based) that are parts
 * of the input — `channel`, `request.body` — so they cross once; `rawBody: true` gives `request`
 * a lazy `rawBody` (ExecutionScope.rawBody, base64 only when the script reads it).
 */
export interface RunInput {
  readonly json: string
  /**
   * `request.body` as JSON text (a webhook's JSON body as received): parsed inside the isolate on
   * its own, so the host never parses it; a malformed one ends the run as `bad_input` before the
   * script starts.
   */
  readonly body?: string
}

/** The parts of an input, when a trigger has them as values (all but webhooks). */
export interface RunInputParts {
  readonly startparams: readonly unknown[]
  readonly request: unknown
  readonly channel: unknown
  readonly startparamAliases?: Readonly<Record<number, string>>
}

export function runInput(parts: RunInputParts): RunInput {
  return { json: JSON.stringify(parts) }
}

export type RunResult = SandboxResult | { readonly kind: 'busy' }

/** The isolates of one runtime (metrics). */
export interface IsolateStats {
  /** Warm isolates now (the spare not included). */
  readonly isolates: number
  /** Their heap in use, bytes (each measured at most once a second, after runs). */
  readonly heapBytes: number
  /** Isolates created so far, spares included. */
  readonly created: number
  /** Isolates disposed so far, by cause. */
  readonly disposals: Readonly<Record<StopCause, number>>
}

interface Pool {
  readonly key: string
  readonly script: RunnableScript
  readonly code: string
  /** Which of the script API's values (`log`, then the modules) the source can reach. */
  readonly used: readonly boolean[]
  /** A synchronous run of it spun past the slice (sandbox.ts SYNC_SLICE_MS): its runs stay asynchronous. */
  noSync: boolean
  /** What its taint set going (Containment), when an isolate of it reached its memory limit. */
  tainting: Promise<void> | undefined
  readonly sandboxes: Sandbox[]
  growing: Promise<void> | undefined
  /** Why the script cannot load (it stops compiling only if the runtime changed under it). */
  broken: string | undefined
  readonly waiters: (() => void)[]
}

/**
 * Runs service scripts in V8 isolates (isolated-vm): one isolate per script version, kept warm,
 * up to `isolatesPerScript` for a hot one; LRU-capped by count and heap. A spare isolate with the
 * prelude already installed is kept ready, so a changed script's first run only compiles it.
 */
export class ScriptRuntime implements ScriptRunner {
  readonly #options: RuntimeOptions
  readonly #prelude: string
  readonly #parameters: readonly string[]
  /** `log` and the modules' names, in the order the scripts get them. */
  readonly #apiNames: readonly string[]
  readonly #functions: ReadonlyMap<string, HostFunction>
  readonly #checker: SourceChecker
  /** Pools in least-recently-used order (a use moves a pool to the end). */
  readonly #pools = new Map<string, Pool>()
  readonly #keys = new WeakMap<RunnableScript, string>()
  #spare: Promise<Sandbox> | undefined
  #closed = false
  #created = 0
  readonly #disposals: Record<StopCause, number> = {
    evicted: 0,
    memory: 0,
    cpu: 0,
    timeout: 0,
    load_failed: 0,
    shutdown: 0,
  }
  readonly #onStop = (cause: StopCause) => {
    this.#disposals[cause]++
  }

  constructor(options: RuntimeOptions) {
    this.#options = options
    this.#prelude = guestPrelude(options.modules, options.limits, { wasm: options.wasm })
    this.#parameters = scriptParameters(options.modules.map((module) => module.name))
    this.#apiNames = ['log', ...options.modules.map((module) => module.name)]
    const functions = new Map<string, HostFunction>([['request.rawBody', RAW_BODY]])
    for (const module of options.modules) {
      for (const [name, fn] of Object.entries(module.functions)) functions.set(`${module.name}.${name}`, fn)
    }
    this.#functions = functions
    this.#checker = new SourceChecker(this.#parameters)
    this.#refillSpare()
  }

  /** Where `source` fails to compile, or undefined. Nothing of it runs. */
  problem(lang: ScriptLang, source: string): SourceProblem | undefined {
    return this.#checker.problem(lang, source)
  }

  async run(
    script: RunnableScript,
    scope: ExecutionScope,
    input: RunInput,
    timeoutMs: number,
    abort?: AbortSignal,
  ): Promise<RunResult> {
    if (this.#closed) return { kind: 'stopped', reason: 'the server is shutting down' }
    const pool = this.#pool(script)
    const began = performance.now()
    let mayRunSync = !pool.noSync
    for (;;) {
      const sandbox = await this.#sandboxFor(pool)
      if (typeof sandbox === 'string') {
        return sandbox === 'busy' ? { kind: 'busy' } : { kind: 'error', message: sandbox, stack: undefined }
      }
      let result: SandboxResult
      try {
        const remainingMs = Math.max(1, Math.ceil(timeoutMs - (performance.now() - began)))
        result = await sandbox.run(scope, input, remainingMs, abort, mayRunSync)
      } finally {
        pool.waiters.shift()?.()
      }
      if (result.kind === 'stopped' && pool.tainting) await pool.tainting
      if (result.kind !== 'retry') return result
      // Cut at the synchronous slice: again, asynchronously; a loop keeps the script off the
      // synchronous path for good, a descheduled thread only this once.
      if (result.spun) pool.noSync = true
      mayRunSync = false
    }
  }

  /** Isolates alive now (for tests and metrics). */
  get isolateCount(): number {
    let count = 0
    for (const pool of this.#pools.values()) count += pool.sandboxes.length
    return count
  }

  get stats(): IsolateStats {
    let isolates = 0
    let heapBytes = 0
    for (const pool of this.#pools.values()) {
      for (const sandbox of pool.sandboxes) {
        if (sandbox.stopped) continue
        isolates++
        heapBytes += sandbox.heapBytes()
      }
    }
    return { isolates, heapBytes, created: this.#created, disposals: { ...this.#disposals } }
  }

  async close(): Promise<void> {
    this.#closed = true
    for (const pool of this.#pools.values()) {
      for (const sandbox of pool.sandboxes) sandbox.stop('shutdown', 'the server is shutting down')
      for (const wake of pool.waiters.splice(0)) wake()
    }
    this.#pools.clear()
    const spare = this.#spare
    this.#spare = undefined
    // A spare that could not be created has nothing to stop (its failure reached whoever took it).
    await spare?.then((sandbox) => sandbox.stop('shutdown', 'the server is shutting down')).catch(() => {})
    this.#checker.dispose()
  }

  #pool(script: RunnableScript): Pool {
    let key = this.#keys.get(script)
    if (key === undefined) {
      key = scriptVersionKey(script)
      this.#keys.set(script, key)
    }
    let pool = this.#pools.get(key)
    if (pool) {
      this.#pools.delete(key)
    } else {
      pool = {
        key,
        script,
        code: '',
        used: namesUsed(script.source, this.#apiNames),
        noSync: false,
        tainting: undefined,
        sandboxes: [],
        growing: undefined,
        broken: undefined,
        waiters: [],
      }
      try {
        ;(pool as { code: string }).code = wrapSource(script.lang, script.source, this.#parameters)
      } catch (error) {
        pool.broken = `the script does not compile: ${error instanceof Error ? error.message : String(error)}`
      }
    }
    this.#pools.set(key, pool)
    return pool
  }

  /** The least busy sandbox of the pool, growing it when all are busy; or why there is none. */
  async #sandboxFor(pool: Pool): Promise<Sandbox | 'busy' | string> {
    for (;;) {
      if (pool.broken !== undefined) return pool.broken
      if (this.#closed) return 'the server is shutting down'
      let best: Sandbox | undefined
      for (let i = pool.sandboxes.length - 1; i >= 0; i--) {
        const sandbox = pool.sandboxes[i] as Sandbox
        if (sandbox.stopped) pool.sandboxes.splice(i, 1)
        else if (!best || sandbox.inFlight < best.inFlight) best = sandbox
      }
      if (!best || (best.inFlight > 0 && pool.sandboxes.length < this.#options.isolatesPerScript)) this.#grow(pool)
      if (best && best.inFlight < this.#options.maxInFlightPerIsolate) {
        best.reserve()
        return best
      }
      if (!best && pool.growing) {
        await pool.growing
        continue
      }
      if (pool.waiters.length >= this.#options.maxQueuedPerScript) return 'busy'
      await new Promise<void>((resolve) => pool.waiters.push(resolve))
    }
  }

  #grow(pool: Pool): void {
    if (pool.growing) return
    pool.growing = (async () => {
      const sandbox = await this.#takeSpare()
      sandbox.onStopped((cause, reason) => {
        if (cause === 'memory') pool.tainting = this.#options.onTainted?.(pool.script, reason)
      })
      try {
        sandbox.load(pool.code, pool.used)
      } catch (error) {
        sandbox.stop('load_failed', 'the script does not load')
        pool.broken = `the script does not load: ${error instanceof Error ? error.message : String(error)}`
        return
      }
      if (this.#closed) {
        sandbox.stop('shutdown', 'the server is shutting down')
        return
      }
      pool.sandboxes.push(sandbox)
      this.#enforceCaps(pool)
    })()
      .catch((error: unknown) => {
        pool.broken = `no isolate could be created: ${error instanceof Error ? error.message : String(error)}`
      })
      .finally(() => {
        pool.growing = undefined
        for (const wake of pool.waiters.splice(0)) wake()
      })
  }

  #takeSpare(): Promise<Sandbox> {
    const spare = this.#spare ?? this.#newSandbox()
    this.#spare = undefined
    // Creating an isolate blocks for a few milliseconds: do it once the run that needed this one
    // has answered.
    setTimeout(() => this.#refillSpare(), 5).unref()
    return spare
  }

  #refillSpare(): void {
    if (this.#closed || this.#spare) return
    const spare = this.#newSandbox()
    // Not the error's only sink: the run that takes this spare awaits it and fails with the reason.
    spare.catch(() => {
      if (this.#spare === spare) this.#spare = undefined
    })
    this.#spare = spare
  }

  #newSandbox(): Promise<Sandbox> {
    this.#created++
    return Sandbox.create({
      onStop: this.#onStop,
      onError: this.#options.onError,
      memoryMb: this.#options.memoryMb,
      prelude: this.#prelude,
      functions: this.#functions,
      cpuLimitMs: this.#options.cpuLimitMs,
    })
  }

  /** Drops the least recently used idle pools while over the isolate count or heap cap. */
  #enforceCaps(keep: Pool): void {
    const over = () => {
      let count = 0
      let heap = 0
      for (const pool of this.#pools.values()) {
        for (const sandbox of pool.sandboxes) {
          count++
          heap += sandbox.heapBytes()
        }
      }
      return count > this.#options.maxIsolates || heap > this.#options.maxHeapBytes
    }
    for (const pool of [...this.#pools.values()]) {
      if (!over()) return
      if (pool === keep || pool.sandboxes.some((sandbox) => sandbox.inFlight > 0)) continue
      for (const sandbox of pool.sandboxes) sandbox.stop('evicted', 'evicted: least recently used')
      this.#pools.delete(pool.key)
    }
  }
}
