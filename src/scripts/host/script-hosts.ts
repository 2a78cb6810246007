import { type ChildProcess, fork } from 'node:child_process'
import { setPriority } from 'node:os'
import type { LogLevel } from '../../config.ts'
import type { HostStopCause, ScriptHostsStats } from '../../metrics/script-metrics.ts'
import { carried } from '../../tracing/tracing.ts'
import { residentMb } from '../../workers/resident-memory.ts'
import { LOCAL_MODULE_NAMES } from '../api/local-modules.ts'
import { scriptParameters } from '../runtime/guest-prelude.ts'
import type { ExecutionScope, HostFunction, HostModule } from '../runtime/host-api.ts'
import {
  type IsolateStats,
  type RunInput,
  type RunnableScript,
  type RunResult,
  scriptVersionKey,
} from '../runtime/script-runtime.ts'
import { type ScriptLang, SourceChecker, type SourceProblem } from '../runtime/script-source.ts'
import type { ScriptRunner } from '../script-runner.ts'
import { BatchedChannel } from './batched-channel.ts'
import { decodeBytes, encodeBytes } from './bytes-codec.ts'
import type { FromHost, HostSettings, ToHost } from './protocol.ts'

export interface ScriptHostsOptions {
  /** How many host processes (one per core serves a busy script on every core). */
  readonly hosts: number
  /** Names these hosts in metrics and events (the domain they serve). */
  readonly label: string
  readonly settings: Omit<HostSettings, 'remoteModules' | 'logLevel'>
  /** Modules whose functions run here, in the main process (ws.send, events.emit, …). */
  readonly remoteModules: readonly HostModule[]
  /** A host whose resident memory passes this is killed and replaced, MB. */
  readonly hostMemoryCapMb: number
  /** A host that sends no heartbeat for this long while it has runs is killed, ms (CPU limit + 5 s). */
  readonly heartbeatTimeoutMs?: number
  /** Unix niceness of the host processes (default 0, the workers'). */
  readonly niceness?: number
  /** Told about hosts that stop or start, for the log and the metrics. */
  readonly onHostEvent?: (event: HostEvent) => void
  /**
   * Told of a failure that no run sees, for the log and the metrics: a host process that could
   * not be started, signalled or written to (`process`; its exit, if it comes, is a HostEvent),
   * an isolate's heap that could not be measured (`isolate_heap`), or spans the host could not
   * export (`trace_export`).
   */
  readonly onError: (error: unknown, where: HostErrorSource) => void
  /** Lines the hosts send for the server's log (outbound calls at debug), at `logLevel` or above. Default: none. */
  readonly onNote?: (note: Extract<FromHost, { t: 'note' }> & { readonly host: number }) => void
  readonly logLevel?: LogLevel
}

/** Where a script host's failure happened: its process, or an isolate's heap measurement. */
export interface HostErrorSource {
  readonly host: number
  readonly what: 'process' | 'isolate_heap' | 'trace_export'
}

export type HostEvent =
  | { readonly host: number; readonly what: 'started' }
  | { readonly host: number; readonly what: 'stopped'; readonly cause: HostStopCause; readonly reason: string }

interface PendingRun {
  readonly scope: ExecutionScope
  readonly resolve: (result: RunResult) => void
  readonly key: string
  readonly script: RunnableScript
  readonly input: RunInput
  readonly timeoutMs: number
  readonly abort: AbortSignal | undefined
  resent: boolean
}

const ENTRY = new URL('./script-host-main.ts', import.meta.url)
const SUPERVISE_EVERY_MS = 500
/**
 * A host that has not said it is ready after this long is killed, ms: starting Node and
 * isolated-vm takes a few hundred ms of CPU, which a loaded machine may stretch to seconds.
 */
const START_TIMEOUT_MS = 30_000
/** A scrape waits this long for a host's fresh stats, then takes the last ones it sent (a busy host answers late). */
const STATS_WAIT_MS = 500
/** A host told to close that is still there after this is killed, ms. */
const CLOSE_WAIT_MS = 2000

/** One script host process, seen from the main process. */
class Host {
  readonly index: number
  readonly child: ChildProcess
  readonly #outbox: BatchedChannel<ToHost>
  readonly runs = new Map<number, PendingRun>()
  /** Script versions this host has the source of. */
  readonly known = new Set<string>()
  lastHeard = performance.now()
  /** It said it is ready: from then on it answers within the heartbeat timeout. */
  ready = false
  alive = true
  /** The last stats it sent. */
  stats: IsolateStats | undefined
  /** Scrapes waiting for its next stats. */
  statsWaiters: (() => void)[] = []

  constructor(index: number, child: ChildProcess) {
    this.index = index
    this.child = child
    this.#outbox = new BatchedChannel((batch) => {
      if (!this.alive || !child.connected) return
      try {
        child.send(batch)
      } catch {
        // A message that cannot be encoded (a value nested too deep): send the others alone.
        for (const message of batch) this.#sendAlone(message)
      }
    }, 'turn')
  }

  #sendAlone(message: ToHost): void {
    try {
      this.child.send([message])
    } catch (error) {
      const reason = `it cannot be sent to a script host: ${error instanceof Error ? error.message : String(error)}`
      if (message.t === 'run') {
        const pending = this.runs.get(message.run)
        this.runs.delete(message.run)
        pending?.resolve({ kind: 'error', message: `the run's input is not valid: ${reason}`, stack: undefined })
      } else if (message.t === 'reply') {
        this.send({ t: 'reply', call: message.call, ok: false, value: `the answer is not valid: ${reason}` })
      }
    }
  }

  send(message: ToHost): void {
    this.#outbox.push(message)
  }
}

/**
 * Runs scripts in supervised child processes (script-host.ts), each with its own isolates. A
 * host that passes its memory cap, stops answering or exits is replaced; its runs in flight end
 * as `stopped`, and the server itself is never at stake. A script version goes to the same host
 * while that host is free (its isolate stays warm there) and spreads to the others when it is busy.
 */
export class ScriptHosts implements ScriptRunner {
  readonly #options: ScriptHostsOptions
  readonly #hosts: Host[] = []
  readonly #functions: ReadonlyMap<string, HostFunction>
  readonly #checker: SourceChecker
  readonly #keys = new WeakMap<RunnableScript, string>()
  readonly #supervisor: NodeJS.Timeout
  /** Tainted hosts finishing their runs (#retire). */
  readonly #retiring = new Set<Host>()
  #nextRun = 1
  #closed = false
  /** Isolates created and disposed by hosts that are gone, so the totals never go back. */
  #goneCreated = 0
  readonly #goneDisposals: Record<string, number> = {}

  private constructor(options: ScriptHostsOptions) {
    this.#options = options
    const functions = new Map<string, HostFunction>()
    for (const module of options.remoteModules) {
      for (const [name, fn] of Object.entries(module.functions)) {
        if (fn.sync) throw new Error(`${module.name}.${name}: functions of the main process cannot be synchronous`)
        functions.set(`${module.name}.${name}`, fn)
      }
    }
    this.#functions = functions
    this.#checker = new SourceChecker(
      scriptParameters([...LOCAL_MODULE_NAMES, ...options.remoteModules.map((module) => module.name)]),
    )
    this.#supervisor = setInterval(() => this.#supervise(), SUPERVISE_EVERY_MS)
    this.#supervisor.unref()
  }

  /** Starts the host processes; runs wait for a host to be ready, the server's start does not. */
  static start(options: ScriptHostsOptions): ScriptHosts {
    const hosts = new ScriptHosts(options)
    for (let i = 0; i < options.hosts; i++) hosts.#hosts.push(hosts.#spawn(i))
    return hosts
  }

  problem(lang: ScriptLang, source: string): SourceProblem | undefined {
    return this.#checker.problem(lang, source)
  }

  run(
    script: RunnableScript,
    scope: ExecutionScope,
    input: RunInput,
    timeoutMs: number,
    abort?: AbortSignal,
  ): Promise<RunResult> {
    if (this.#closed) return Promise.resolve({ kind: 'stopped', reason: 'the server is shutting down' })
    let key = this.#keys.get(script)
    if (key === undefined) {
      key = scriptVersionKey(script)
      this.#keys.set(script, key)
    }
    const pending: PendingRun = {
      scope,
      resolve: () => {},
      key,
      script,
      // Encoded once, by the IPC channel; the host makes the isolate's JSON text.
      input,
      timeoutMs,
      abort,
      resent: false,
    }
    return new Promise<RunResult>((resolve) => {
      ;(pending as { resolve: (result: RunResult) => void }).resolve = resolve
      const host = this.#pick(key)
      // A host still starting takes the run after its `init`: messages arrive in order.
      this.#dispatch(pending, host)
    })
  }

  /**
   * The hosts' isolates and memory, fresh: each host is asked over its IPC channel; one that
   * does not answer within STATS_WAIT_MS (a script holds its thread) counts with its last report.
   */
  async stats(): Promise<ScriptHostsStats> {
    const alive = this.#hosts.filter((host) => host.alive)
    await Promise.all(
      alive.map(
        (host) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, STATS_WAIT_MS)
            host.statsWaiters.push(() => {
              clearTimeout(timer)
              resolve()
            })
            host.send({ t: 'stats' })
          }),
      ),
    )
    let created = this.#goneCreated
    const disposals: Record<string, number> = { ...this.#goneDisposals }
    const hosts = alive.map((host) => {
      const stats = host.stats
      created += stats?.created ?? 0
      for (const [reason, count] of Object.entries(stats?.disposals ?? {})) disposals[reason] = (disposals[reason] ?? 0) + count
      const rssMb = host.child.pid === undefined ? undefined : residentMb(host.child.pid)
      return {
        host: `${this.#options.label}/${host.index}`,
        memoryBytes: rssMb === undefined ? undefined : rssMb * 1024 * 1024,
        isolates: stats?.isolates ?? 0,
        heapBytes: stats?.heapBytes ?? 0,
      }
    })
    return { hosts, created, disposals }
  }

  /** Tells every host to dispose its isolates and leave; one that does not is killed. Runs in flight end as stopped. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#supervisor)
    for (const host of this.#retiring) this.#kill(host, 'tainted', 'the server is shutting down')
    this.#retiring.clear()
    await Promise.all(
      this.#hosts.map(
        (host) =>
          new Promise<void>((resolve) => {
            if (host.child.exitCode !== null || host.child.signalCode !== null) return resolve()
            // An isolate V8 could not stop may keep a host from leaving: SIGKILL follows.
            const kill = setTimeout(() => host.child.kill('SIGKILL'), CLOSE_WAIT_MS)
            host.child.once('exit', () => {
              clearTimeout(kill)
              resolve()
            })
            if (host.child.connected) host.send({ t: 'close' })
            else host.child.kill('SIGTERM')
          }),
      ),
    )
    this.#checker.dispose()
  }

  /** The host for a run: the script's own host while it is free, else the least busy. */
  #pick(key: string): Host {
    const hosts = this.#hosts
    const home = hosts[Number.parseInt(key.slice(0, 8), 16) % hosts.length] as Host
    if (home.alive && home.runs.size === 0) return home
    let best = home
    for (const host of hosts) if (host.alive && (!best.alive || host.runs.size < best.runs.size)) best = host
    return best
  }

  #dispatch(pending: PendingRun, host: Host): void {
    const run = this.#nextRun++
    host.runs.set(run, pending)
    const firstTime = !host.known.has(pending.key)
    host.known.add(pending.key)
    const { executionId, domainId, scriptCode, depth, requestId, logLevel, channel, rawBody, relativeUrlsOnly, trace } =
      pending.scope
    host.send({
      t: 'run',
      run,
      key: pending.key,
      script: firstTime ? { id: pending.script.id, lang: pending.script.lang, source: pending.script.source } : undefined,
      input: pending.input,
      timeoutMs: pending.timeoutMs,
      scope: {
        executionId,
        domainId,
        scriptCode,
        depth,
        requestId,
        logLevel,
        channel,
        ...(rawBody !== undefined && { rawBody: Buffer.from(rawBody).toString('base64') }),
        ...(relativeUrlsOnly && { relativeUrlsOnly }),
        ...(trace && { trace: carried(trace) }),
      },
    })
    if (pending.abort) {
      if (pending.abort.aborted) host.send({ t: 'abort', run })
      else pending.abort.addEventListener('abort', () => host.send({ t: 'abort', run }), { once: true })
    }
  }

  #spawn(index: number): Host {
    const child = fork(ENTRY, [], {
      execArgv: ['--no-node-snapshot', '--disable-warning=ExperimentalWarning'],
      serialization: 'json',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    if (this.#options.niceness !== undefined && child.pid !== undefined) {
      try {
        setPriority(child.pid, this.#options.niceness)
      } catch {
        // It exited already (its exit handler replaces it) or the system refuses: it runs at 0.
      }
    }
    const host = new Host(index, child)
    child.on('message', (batch: FromHost[]) => {
      host.lastHeard = performance.now()
      for (const message of batch) this.#receive(host, message)
    })
    child.on('exit', (code, signal) =>
      this.#lost(host, 'exited', signal ? `it was killed (${signal})` : `it exited with code ${code}`),
    )
    child.on('error', (error) => this.#options.onError(error, { host: index, what: 'process' }))
    const logLevel = this.#options.onNote === undefined ? 'silent' : (this.#options.logLevel ?? 'info')
    host.send({ t: 'init', settings: { ...this.#options.settings, remoteModules: this.#manifests(), logLevel } })
    return host
  }

  #manifests(): HostSettings['remoteModules'] {
    return this.#options.remoteModules.map((module) => ({
      name: module.name,
      guest: module.guest,
      functions: Object.keys(module.functions),
    }))
  }

  #receive(host: Host, message: FromHost): void {
    if (message.t === 'ready') {
      host.ready = true
      this.#options.onHostEvent?.({ host: host.index, what: 'started' })
    } else if (message.t === 'log') {
      host.runs.get(message.run)?.scope.log(message.level, message.text, message.ms)
    } else if (message.t === 'call') {
      this.#call(host, message)
    } else if (message.t === 'done') {
      this.#done(host, message)
    } else if (message.t === 'stats') {
      host.stats = message.stats
      for (const wake of host.statsWaiters.splice(0)) wake()
    } else if (message.t === 'note') {
      this.#options.onNote?.({ ...message, host: host.index })
    } else if (message.t === 'tainted') {
      this.#retire(host, message.reason)
    } else if (message.t === 'error') {
      this.#options.onError(new Error(message.message), { host: host.index, what: message.what })
    }
  }

  /** A host function of the main process, called by a script in a host. */
  #call(host: Host, message: Extract<FromHost, { t: 'call' }>): void {
    const pending = host.runs.get(message.run)
    const fn = this.#functions.get(message.name)
    const reply = (ok: boolean, value: unknown) => {
      let encoded: unknown
      try {
        encoded = ok ? encodeBytes(value) : value
      } catch (error) {
        // An answer nested too deep to encode: the script gets the reason instead.
        const reason = error instanceof Error ? error.message : String(error)
        host.send({
          t: 'reply',
          call: message.call,
          ok: false,
          value: `the answer is not valid: it cannot be sent to a script host: ${reason}`,
        })
        return
      }
      host.send({ t: 'reply', call: message.call, ok, value: encoded })
    }
    if (!pending || !fn) {
      reply(false, 'the execution is over')
      return
    }
    Promise.resolve()
      .then(() => fn.run(pending.scope, decodeBytes(message.args) as readonly unknown[]))
      .then(
        (value) => reply(true, value),
        (error: unknown) => reply(false, error instanceof Error ? error.message : String(error)),
      )
  }

  #done(host: Host, message: Extract<FromHost, { t: 'done' }>): void {
    const pending = host.runs.get(message.run)
    host.runs.delete(message.run)
    if (!pending) return
    const { result } = message
    if (result.kind !== 'unknown-script') {
      pending.resolve(result)
    } else if (!pending.resent) {
      // The host dropped the source from its cache: send it again, once.
      host.known.delete(pending.key)
      pending.resent = true
      this.#dispatch(pending, host)
    } else {
      pending.resolve({ kind: 'error', message: 'the script host does not have the script', stack: undefined })
    }
  }

  /** A host is gone: its runs end as stopped, and (unless shutting down) another takes its place. */
  #lost(host: Host, cause: HostStopCause, why: string): void {
    if (!host.alive) return
    host.alive = false
    const reason = `the script host process stopped: ${why}`
    for (const pending of host.runs.values()) pending.resolve({ kind: 'stopped', reason })
    host.runs.clear()
    for (const wake of host.statsWaiters.splice(0)) wake()
    // Its totals stay counted; the isolates it still held went with it.
    if (host.stats) {
      this.#goneCreated += host.stats.created
      for (const [name, count] of Object.entries(host.stats.disposals)) {
        this.#goneDisposals[name] = (this.#goneDisposals[name] ?? 0) + count
      }
      if (!this.#closed) this.#goneDisposals.host_stopped = (this.#goneDisposals.host_stopped ?? 0) + host.stats.isolates
    }
    // A retired host (#retire) has its successor already.
    if (this.#closed || this.#hosts[host.index] !== host) return
    this.#options.onHostEvent?.({ host: host.index, what: 'stopped', cause, reason: why })
    this.#hosts[host.index] = this.#spawn(host.index)
  }

  /**
   * A host that holds an isolate V8 may not have stopped (SPEC §13): a fresh host takes its place
   * for new runs at once; it finishes the runs it has (bounded by their timeouts, then the
   * heartbeat) and is killed.
   */
  #retire(host: Host, reason: string): void {
    if (!host.alive || this.#closed || this.#hosts[host.index] !== host) return
    this.#options.onHostEvent?.({ host: host.index, what: 'stopped', cause: 'tainted', reason })
    this.#hosts[host.index] = this.#spawn(host.index)
    this.#retiring.add(host)
    const finished = () => {
      if (host.runs.size > 0 && host.alive && !this.#closed) return
      clearInterval(watch)
      this.#retiring.delete(host)
      this.#kill(host, 'tainted', reason)
    }
    const watch = setInterval(finished, 100)
    watch.unref()
    finished()
  }

  /** Memory cap and heartbeat of every host. */
  #supervise(): void {
    // A host may be blocked for up to the CPU limit by a script it runs synchronously (sandbox.ts).
    const timeout = this.#options.heartbeatTimeoutMs ?? this.#options.settings.cpuLimitMs + 5000
    for (const host of [...this.#hosts, ...this.#retiring]) {
      if (!host.alive || host.child.pid === undefined) continue
      const rssMb = residentMb(host.child.pid)
      if (rssMb !== undefined && rssMb > this.#options.hostMemoryCapMb) {
        this.#kill(host, 'memory', `it used ${rssMb} MB of memory (the cap is ${this.#options.hostMemoryCapMb} MB)`)
      } else if (host.runs.size > 0 && performance.now() - host.lastHeard > (host.ready ? timeout : START_TIMEOUT_MS)) {
        const waited = host.ready ? `it did not answer for ${timeout} ms` : `it did not start within ${START_TIMEOUT_MS} ms`
        this.#kill(host, 'unresponsive', waited)
      }
    }
  }

  #kill(host: Host, cause: HostStopCause, why: string): void {
    host.child.kill('SIGKILL')
    this.#lost(host, cause, why)
  }
}
