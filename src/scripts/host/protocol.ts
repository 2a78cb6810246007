import type { Channel } from '../../channels/channel-schemas.ts'
import type { LogLevel, TracingSettings } from '../../config.ts'
import type { TraceCarrier } from '../../tracing/tracing.ts'
import type { ScriptLogLevel } from '../runtime/host-api.ts'
import type { SandboxResult } from '../runtime/sandbox.ts'
import type { IsolateStats, RunInput } from '../runtime/script-runtime.ts'
import type { ScriptLang } from '../runtime/script-source.ts'

/** How a script host process is set up (sent with `init`). */
export interface HostSettings {
  readonly memoryMb: number
  readonly cpuLimitMs: number
  readonly maxIsolates: number
  readonly maxInFlightPerIsolate: number
  readonly maxQueuedPerScript: number
  readonly egressAllow: readonly string[]
  readonly httpTimeoutMs: number
  readonly httpMaxResponseBytes: number
  readonly httpMaxRequestBytes: number
  readonly maxOutputChars: number
  readonly maxLogLineChars: number
  readonly maxLogLines: number
  readonly maxLogChars: number
  readonly wasm: boolean
  /** Modules whose functions run in the main process: the host only forwards their calls. */
  readonly remoteModules: readonly RemoteModuleManifest[]
  /** The server's log level: the host sends `note`s at this level or above only. */
  readonly logLevel: LogLevel
  /** Tracing on: the host exports the spans of its host functions (`http.request`) itself. Absent: off. */
  readonly tracing?: TracingSettings
}

export interface RemoteModuleManifest {
  readonly name: string
  readonly guest: string
  readonly functions: readonly string[]
}

/** The execution's scope as it crosses. */
interface RunScope {
  readonly channel: Channel | null
  /** ExecutionScope.rawBody, base64. */
  readonly rawBody?: string
  readonly executionId: string
  readonly domainId: string
  readonly scriptCode: string
  readonly depth: number
  readonly requestId: string | null
  /** Lines below this level are not kept. */
  readonly logLevel: ScriptLogLevel
  /** ExecutionScope.relativeUrlsOnly (absent: false). */
  readonly relativeUrlsOnly?: boolean
  /** ExecutionScope.trace: the run's span in the worker, as W3C trace context (absent: tracing is off). */
  readonly trace?: TraceCarrier
}

/** Main process → script host. */
export type ToHost =
  | { readonly t: 'init'; readonly settings: HostSettings }
  | {
      readonly t: 'run'
      readonly run: number
      readonly key: string
      /** Sent the first time this host sees the script version. */
      readonly script: { readonly id: string; readonly lang: ScriptLang; readonly source: string } | undefined
      readonly input: RunInput
      readonly timeoutMs: number
      readonly scope: RunScope
    }
  | { readonly t: 'abort'; readonly run: number }
  | { readonly t: 'reply'; readonly call: number; readonly ok: boolean; readonly value: unknown }
  /** Send `stats` now (a metrics scrape). */
  | { readonly t: 'stats' }
  /** Shutdown: dispose every isolate, then leave. */
  | { readonly t: 'close' }

/** Script host → main process. */
export type FromHost =
  | { readonly t: 'ready' }
  /** An isolate was stopped at its memory limit: V8 may not have stopped it; replace this host. */
  | { readonly t: 'tainted'; readonly reason: string }
  | { readonly t: 'log'; readonly run: number; readonly level: ScriptLogLevel; readonly text: string; readonly ms?: number }
  | { readonly t: 'call'; readonly run: number; readonly call: number; readonly name: string; readonly args: readonly unknown[] }
  | {
      readonly t: 'done'
      readonly run: number
      readonly result: SandboxResult | { readonly kind: 'busy' } | { readonly kind: 'unknown-script' }
    }
  /** Every second (the heartbeat), and when asked. */
  | { readonly t: 'stats'; readonly stats: IsolateStats }
  /**
   * A failure of the host's own work — an isolate's heap could not be measured, spans could not
   * be exported —: logged and counted, at any log level.
   */
  | { readonly t: 'error'; readonly what: 'isolate_heap' | 'trace_export'; readonly message: string }
  /** A line for the server's log (the main process writes it, with the host's index). */
  | {
      readonly t: 'note'
      readonly level: 'debug' | 'info' | 'warn' | 'error'
      readonly msg: string
      readonly fields: Readonly<Record<string, unknown>>
    }
