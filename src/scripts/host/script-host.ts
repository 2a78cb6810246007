import { cpuUsage } from 'node:process'
import type { LogLevel } from '../../config.ts'
import { openTracing, type Tracing } from '../../tracing/tracing.ts'
import { localModules } from '../api/local-modules.ts'
import { LOG_LEVELS } from '../runtime/guest-prelude.ts'
import { ExecutionEnd, type ExecutionScope, type HostModule } from '../runtime/host-api.ts'
import { type RunnableScript, ScriptRuntime } from '../runtime/script-runtime.ts'
import { BatchedChannel } from './batched-channel.ts'
import { decodeBytes, encodeBytes } from './bytes-codec.ts'
import type { FromHost, HostSettings, RemoteModuleManifest, ToHost } from './protocol.ts'

/** Versions of scripts a host keeps the source of; the main process resends evicted ones. */
const SCRIPT_CACHE = 1024
/**
 * A host with nothing to run that keeps at least half a core busy for three seconds in a row has
 * a runaway isolate (an idle host uses next to nothing; a busy neighbour may leave it only part
 * of a core).
 */
const IDLE_BURN_RATIO = 0.5
const IDLE_BURN_SECONDS = 3
/** Server log levels, least severe first (pino's order). */
const SERVER_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']
/** The main process kills a closing host after 2 s: the last spans get half of it. */
const TRACE_CLOSE_WAIT_MS = 1000
const NO_STATS = {
  isolates: 0,
  heapBytes: 0,
  created: 0,
  disposals: { evicted: 0, memory: 0, cpu: 0, timeout: 0, load_failed: 0, shutdown: 0 },
}

interface PendingCall {
  readonly resolve: (value: unknown) => void
  readonly reject: (error: Error) => void
}

/**
 * The script host: a child process that runs scripts in isolates for the main process. It owns
 * nothing durable; if it dies, the main process fails its runs and starts another. Every message
 * travels as JSON over the IPC channel, batched (batched-channel.ts).
 */
export function runScriptHost(): void {
  const outbox = new BatchedChannel<FromHost>((batch) => {
    try {
      process.send?.(batch)
    } catch {
      // A message that cannot be encoded (a host call's arguments nested too deep): send the
      // others alone, and fail the one.
      for (const message of batch) sendAlone(message)
    }
  }, 'task')
  const sendAlone = (message: FromHost) => {
    try {
      process.send?.([message])
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error)
      if (message.t === 'done') {
        const result = { kind: 'error' as const, message: `the output cannot be sent: ${reason}`, stack: undefined }
        process.send?.([{ ...message, result }])
      } else if (message.t === 'call') {
        calls.get(message.call)?.reject(new Error(`the arguments cannot be sent: ${reason}`))
        calls.delete(message.call)
      }
    }
  }
  const send = (message: FromHost) => outbox.push(message)
  let runtime: ScriptRuntime | undefined
  let settings: HostSettings
  let tracing: Tracing | undefined
  /** Messages that came while `init` loaded the tracing SDK: handled, in order, once it is ready. */
  let held: ToHost[] | undefined
  const scripts = new Map<string, RunnableScript>()
  const aborts = new Map<number, AbortController>()
  const runOf = new WeakMap<ExecutionScope, number>()
  const calls = new Map<number, PendingCall>()
  let nextCall = 1
  let runsStarted = 0
  /** Notes below this rank are not sent (the server would drop them). */
  let noteRank = SERVER_LEVELS.indexOf('silent')
  const note = (level: Extract<FromHost, { t: 'note' }>['level'], msg: string, fields: Record<string, unknown>) => {
    if (SERVER_LEVELS.indexOf(level) >= noteRank) send({ t: 'note', level, msg, fields })
  }
  const stats = () => send({ t: 'stats', stats: runtime?.stats ?? NO_STATS })

  function remoteModule(manifest: RemoteModuleManifest): HostModule {
    const functions = Object.fromEntries(
      manifest.functions.map((name) => [
        name,
        {
          run: (scope: ExecutionScope, args: readonly unknown[]) =>
            new Promise((resolve, reject) => {
              const call = nextCall++
              calls.set(call, { resolve, reject })
              const encoded = encodeBytes(args) as readonly unknown[]
              send({ t: 'call', run: runOf.get(scope) ?? 0, call, name: `${manifest.name}.${name}`, args: encoded })
            }),
        },
      ]),
    )
    return { name: manifest.name, guest: manifest.guest, functions }
  }

  function init(given: HostSettings): void {
    if (given.tracing === undefined) {
      start(given)
      return
    }
    held = []
    const exportFailed = (error: unknown) =>
      send({ t: 'error', what: 'trace_export', message: error instanceof Error ? error.message : String(error) })
    openTracing(given.tracing, { role: 'script-host', closeWaitMs: TRACE_CLOSE_WAIT_MS, onExportError: exportFailed })
      .then(
        (opened) => {
          tracing = opened
        },
        (error: unknown) => exportFailed(new Error(`tracing could not start: ${error instanceof Error ? error.message : error}`)),
      )
      .finally(() => {
        start(given)
        const waiting = held ?? []
        held = undefined
        for (const message of waiting) receive(message)
      })
  }

  function start(given: HostSettings): void {
    settings = given
    noteRank = SERVER_LEVELS.indexOf(settings.logLevel)
    runtime = new ScriptRuntime({
      memoryMb: settings.memoryMb,
      cpuLimitMs: settings.cpuLimitMs,
      maxIsolates: settings.maxIsolates,
      maxHeapBytes: settings.maxIsolates * settings.memoryMb * 1024 * 1024,
      // One isolate per script here: the main process spreads a busy script over the hosts.
      isolatesPerScript: 1,
      maxInFlightPerIsolate: settings.maxInFlightPerIsolate,
      maxQueuedPerScript: settings.maxQueuedPerScript,
      modules: [
        ...localModules(settings, (call) => note('debug', 'outbound request', { ...call }), tracing),
        ...settings.remoteModules.map(remoteModule),
      ],
      limits: {
        maxOutputChars: settings.maxOutputChars,
        maxLogLineChars: settings.maxLogLineChars,
        maxLogLines: settings.maxLogLines,
        maxLogChars: settings.maxLogChars,
      },
      wasm: settings.wasm,
      onTainted: (_script, reason) => {
        send({ t: 'tainted', reason })
        return undefined
      },
      onError: (error) =>
        send({ t: 'error', what: 'isolate_heap', message: error instanceof Error ? error.message : String(error) }),
    })
    send({ t: 'ready' })
  }

  async function run(message: Extract<ToHost, { t: 'run' }>): Promise<void> {
    if (!runtime) throw new Error('run before init')
    let script = scripts.get(message.key)
    if (message.script) script = { id: message.script.id, lang: message.script.lang, source: message.script.source }
    if (!script) {
      send({ t: 'done', run: message.run, result: { kind: 'unknown-script' } })
      return
    }
    scripts.delete(message.key)
    scripts.set(message.key, script)
    if (scripts.size > SCRIPT_CACHE) scripts.delete(scripts.keys().next().value as string)

    const ended = new ExecutionEnd()
    const abort = new AbortController()
    aborts.set(message.run, abort)
    runsStarted++
    const minRank = LOG_LEVELS.indexOf(message.scope.logLevel)
    const { rawBody, ...given } = message.scope
    const scope: ExecutionScope = {
      ...given,
      ...(rawBody !== undefined && { rawBody: Buffer.from(rawBody, 'base64') }),
      get signal() {
        return ended.signal
      },
      // The script's lines come filtered and bounded from the isolate (guest-prelude.ts); host
      // functions' lines (http) are filtered here, and bounded by the main process.
      log: (level, text, ms) => {
        if (LOG_LEVELS.indexOf(level) >= minRank)
          send({ t: 'log', run: message.run, level, text, ...(ms !== undefined && { ms }) })
      },
    }
    runOf.set(scope, message.run)
    try {
      const result = await runtime.run(script, scope, message.input, message.timeoutMs, abort.signal)
      send({ t: 'done', run: message.run, result })
    } finally {
      ended.end()
      aborts.delete(message.run)
    }
  }

  process.on('message', (batch: ToHost[]) => {
    for (const message of batch) receive(message)
  })

  function receive(message: ToHost): void {
    if (held) {
      held.push(message)
      return
    }
    if (message.t === 'init') {
      init(message.settings)
    } else if (message.t === 'run') {
      run(message).catch((error: unknown) => {
        send({ t: 'done', run: message.run, result: { kind: 'error', message: String(error), stack: undefined } })
      })
    } else if (message.t === 'abort') {
      aborts.get(message.run)?.abort()
    } else if (message.t === 'reply') {
      const pending = calls.get(message.call)
      calls.delete(message.call)
      if (message.ok) pending?.resolve(decodeBytes(message.value))
      else pending?.reject(new Error(String(message.value)))
    } else if (message.t === 'stats') {
      stats()
    } else if (message.t === 'close') {
      close()
    }
  }

  /** Shutdown: every isolate disposed (runs in them end as stopped), the answers sent, then gone. */
  function close(): void {
    const closing = (runtime?.close() ?? Promise.resolve()).then(() => tracing?.close())
    closing.finally(() => {
      outbox.flush()
      // The disconnect (below) ends the process once the IPC channel has written what it holds.
      process.disconnect?.()
    })
  }
  // Without the main process there is nobody to answer: leave. SIGTERM keeps its default action.
  process.on('disconnect', leave)

  // Heartbeat, and the last line of defence: V8 cannot always stop an isolate that ran out of
  // memory (its thread keeps running after disposal). A host with no runs that keeps burning a
  // core has such an isolate; it exits, and the main process starts a fresh one.
  let last = cpuUsage()
  let burning = 0
  setInterval(() => {
    const now = cpuUsage()
    const busy = (now.user - last.user + now.system - last.system) / 1e6
    last = now
    // Idle: no run in flight now, and none started during the second (most finish within one task).
    const idle = aborts.size === 0 && runsStarted === 0
    runsStarted = 0
    burning = idle && busy > IDLE_BURN_RATIO ? burning + 1 : 0
    if (burning >= IDLE_BURN_SECONDS) {
      process.stderr.write('switchboard script host: an isolate keeps running after it was stopped; restarting\n')
      leave()
    }
    stats()
  }, 1000).unref()
}

/**
 * Ends this process at once. Not `process.exit`: its clean-up waits for isolate threads, and an
 * isolate V8 could not stop never ends, which left hosts spinning on after their server was gone.
 */
function leave(): never {
  process.kill(process.pid, 'SIGKILL')
  throw new Error('unreachable: SIGKILL was sent')
}
