import { availableParallelism } from 'node:os'
import { resolve } from 'node:path'
import { ipRangeProblem } from './net/ip-ranges.ts'

/** Where a domain's scripts run (SPEC §13). */
export type ScriptIsolation = 'worker' | 'process'

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

/** Channel limits per type; a type that is not listed is unlimited. */
export type License = Readonly<Record<string, number>>

/** Everything the server reads from its environment, validated once. Only this file reads `process.env`. */
export interface Config {
  readonly host: string
  readonly port: number
  /** SQLite file, files and logs of the embedded mode. */
  readonly dataDir: string
  /** The root API key when given by the environment; otherwise generated on first start. */
  readonly adminKey: string | undefined
  /** PostgreSQL URL: selects the PostgreSQL store instead of SQLite. */
  readonly databaseUrl: string | undefined
  /** PostgreSQL schema of the installation's tables (created if missing); default the connection's own (`public`). */
  readonly databaseSchema: string | undefined
  readonly natsUrl: string | undefined
  /** Before every NATS subject and stream name: installations sharing a NATS server stay apart. */
  readonly natsPrefix: string
  /** Cluster queue: a job not acknowledged for this long goes to another node (its node died), ms. */
  readonly queueAckWaitMs: number
  /** Proxies whose `X-Forwarded-For` is believed. */
  readonly trustProxy: readonly string[]
  /** Ranges that script egress may reach although private or loopback. */
  readonly egressAllow: readonly string[]
  /** Licence applied to every domain without its own; undefined = unlimited. */
  readonly license: License | undefined
  readonly scriptMemoryMb: number
  /** An isolate busy without a pause for this long is stopped, ms. */
  readonly scriptCpuMs: number
  /** Most script isolates alive at once, in each worker and each script host. */
  readonly scriptMaxIsolates: number
  /** A script host whose resident memory passes this is replaced, MB. */
  readonly scriptHostMemoryMb: number
  /** Worker processes of a node (SPEC §13); each serves every route and runs scripts in-process. */
  readonly workers: number
  /** A worker whose resident memory passes this drains and is replaced, MB (the backstop of containment). */
  readonly workerMemoryMb: number
  /** Where scripts run by default: isolates inside the worker, or script-host processes per domain (SPEC §13). */
  readonly scriptIsolation: ScriptIsolation
  /** WebAssembly in script isolates (off: its memory lives outside the isolate's heap limit). */
  readonly scriptWasm: boolean
  /** Execution records kept (the newest), over all domains. */
  readonly executionsKeep: number
  /** Execution records older than this are deleted, hours. */
  readonly executionsKeepHours: number
  readonly logLevel: LogLevel
  /** Largest admin REST request body, in bytes. */
  readonly restBodyLimit: number
  /** Largest webhook body, bytes (SPEC §5.4: 10 MiB). */
  readonly webhookBodyLimit: number
  /** Sync webhooks in flight per channel; more are refused with 1429. */
  readonly webhookConcurrency: number
  /** Largest websocket frame, bytes. */
  readonly wsMaxFrameBytes: number
  /** Requests in flight per websocket connection. */
  readonly wsMaxInFlight: number
  /** Websocket connections per channel (on this node). */
  readonly wsMaxConnectionsPerChannel: number
  /** Websocket heartbeat interval, ms. */
  readonly wsPingMs: number
  /** Bytes buffered for a slow websocket client before it is closed. */
  readonly wsMaxBufferedBytes: number
  /** Event subscriptions one websocket connection may hold. */
  readonly eventsMaxSubscriptions: number
  /** Largest event `data`, bytes of JSON. */
  readonly eventMaxBytes: number
  /** Bytes waiting for a websocket subscriber past which its events are dropped (and counted). */
  readonly eventsMaxBacklogBytes: number
  /** Async webhooks run at once. */
  readonly asyncWorkers: number
  /** Runs of an async webhook before it stays failed. */
  readonly asyncAttempts: number
  /** Wait before the first retry of an async webhook, ms (doubled for each next one). */
  readonly asyncRetryMs: number
  /** Largest file of the files API, bytes. */
  readonly filesMaxBytes: number
  /** How long a temporary file link serves its file, ms (set in seconds). */
  readonly tempLinkMs: number
  /** Audit entries kept (the newest), over all domains. */
  readonly auditKeep: number
  /** Audit entries older than this are deleted, days. */
  readonly auditKeepDays: number
  /** When set, `GET /metrics` needs it as a bearer token. */
  readonly metricsToken: string | undefined
  /**
   * Graceful shutdown: how long in-flight requests and running async jobs may take to finish
   * once the server stops accepting, ms. Requests still running then are cut; jobs are handed
   * back to the queue.
   */
  readonly shutdownTimeoutMs: number
  /**
   * OpenTelemetry traces (docs/operations.md#tracing): on when an OTLP endpoint is set
   * (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`); undefined: off, and
   * nothing of OpenTelemetry is loaded.
   */
  readonly tracing: TracingSettings | undefined
}

/**
 * How spans are sampled and exported: the standard OTEL_* variables, read here. The OTLP
 * exporter reads the rest of its own (`OTEL_EXPORTER_OTLP_[TRACES_]HEADERS`, `…_TIMEOUT`,
 * `…_COMPRESSION`, `…_CERTIFICATE`, `…_CLIENT_KEY`, `…_CLIENT_CERTIFICATE`), and the resource
 * `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`. Plain data: it travels to script hosts.
 */
export interface TracingSettings {
  /** Where spans are sent: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as given, else `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`. */
  readonly url: string
  /** `OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL`: protobuf (the standard's default) or JSON, over HTTP. */
  readonly protocol: 'http/protobuf' | 'http/json'
  /** `OTEL_TRACES_SAMPLER`, default `parentbased_always_on`. */
  readonly sampler: TraceSampler
  /** `OTEL_TRACES_SAMPLER_ARG`: the ratio (0–1) of the `traceidratio` samplers; default 1. */
  readonly samplerRatio: number
  /** `OTEL_BSP_*`: the batch span processor of each process. */
  readonly batch: {
    /** `OTEL_BSP_SCHEDULE_DELAY`: longest wait before ended spans are sent, ms (default 5000). */
    readonly scheduledDelayMillis: number
    /** `OTEL_BSP_EXPORT_TIMEOUT`, ms (default 30000). */
    readonly exportTimeoutMillis: number
    /** `OTEL_BSP_MAX_QUEUE_SIZE`: spans waiting past this are dropped (default 2048). */
    readonly maxQueueSize: number
    /** `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` (default 512). */
    readonly maxExportBatchSize: number
  }
}

const TRACE_SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const
type TraceSampler = (typeof TRACE_SAMPLERS)[number]

export class ConfigError extends Error {
  override readonly name = 'ConfigError'
}

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

type Env = Readonly<Record<string, string | undefined>>

export function loadConfig(env: Env = process.env): Config {
  const text = (name: string): string | undefined => {
    const value = env[name]?.trim()
    return value === undefined || value === '' ? undefined : value
  }
  return {
    host: text('SWITCHBOARD_HOST') ?? '127.0.0.1',
    port: integer('SWITCHBOARD_PORT', text('SWITCHBOARD_PORT'), 8080, 0, 65535),
    dataDir: resolve(text('SWITCHBOARD_DATA_DIR') ?? './data'),
    adminKey: adminKey(text('SWITCHBOARD_ADMIN_KEY')),
    databaseUrl: url('SWITCHBOARD_DATABASE_URL', text('SWITCHBOARD_DATABASE_URL'), ['postgres:', 'postgresql:']),
    databaseSchema: schemaName(text('SWITCHBOARD_DATABASE_SCHEMA')),
    natsUrl: url('SWITCHBOARD_NATS_URL', text('SWITCHBOARD_NATS_URL'), ['nats:', 'tls:']),
    natsPrefix: natsPrefix(text('SWITCHBOARD_NATS_PREFIX')),
    queueAckWaitMs: integer('SWITCHBOARD_QUEUE_ACK_WAIT_MS', text('SWITCHBOARD_QUEUE_ACK_WAIT_MS'), 30_000, 1000, 3_600_000),
    trustProxy: ranges('SWITCHBOARD_TRUST_PROXY', text('SWITCHBOARD_TRUST_PROXY')),
    egressAllow: ranges('SWITCHBOARD_EGRESS_ALLOW', text('SWITCHBOARD_EGRESS_ALLOW')),
    license: license(text('SWITCHBOARD_LICENSE')),
    scriptMemoryMb: integer('SWITCHBOARD_SCRIPT_MEMORY_MB', text('SWITCHBOARD_SCRIPT_MEMORY_MB'), 128, 8, 4096),
    scriptCpuMs: integer('SWITCHBOARD_SCRIPT_CPU_MS', text('SWITCHBOARD_SCRIPT_CPU_MS'), 5000, 100, 600_000),
    scriptMaxIsolates: integer('SWITCHBOARD_SCRIPT_MAX_ISOLATES', text('SWITCHBOARD_SCRIPT_MAX_ISOLATES'), 64, 2, 10_000),
    scriptHostMemoryMb: integer(
      'SWITCHBOARD_SCRIPT_HOST_MEMORY_MB',
      text('SWITCHBOARD_SCRIPT_HOST_MEMORY_MB'),
      2048,
      256,
      1_000_000,
    ),
    workers: integer('SWITCHBOARD_WORKERS', text('SWITCHBOARD_WORKERS'), availableParallelism(), 1, 256),
    workerMemoryMb: integer('SWITCHBOARD_WORKER_MEMORY_MB', text('SWITCHBOARD_WORKER_MEMORY_MB'), 2048, 256, 1_000_000),
    scriptIsolation: oneOf('SWITCHBOARD_SCRIPT_ISOLATION', text('SWITCHBOARD_SCRIPT_ISOLATION'), ['worker', 'process'], 'worker'),
    scriptWasm: flag('SWITCHBOARD_SCRIPT_WASM', text('SWITCHBOARD_SCRIPT_WASM')),
    executionsKeep: integer('SWITCHBOARD_EXECUTIONS_KEEP', text('SWITCHBOARD_EXECUTIONS_KEEP'), 100_000, 1, 100_000_000),
    executionsKeepHours: integer('SWITCHBOARD_EXECUTIONS_KEEP_HOURS', text('SWITCHBOARD_EXECUTIONS_KEEP_HOURS'), 168, 1, 100_000),
    logLevel: logLevel(text('SWITCHBOARD_LOG_LEVEL')),
    restBodyLimit: integer('SWITCHBOARD_REST_BODY_LIMIT', text('SWITCHBOARD_REST_BODY_LIMIT'), 1 << 20, 1024, 1 << 30),
    webhookBodyLimit: integer('SWITCHBOARD_WEBHOOK_BODY_LIMIT', text('SWITCHBOARD_WEBHOOK_BODY_LIMIT'), 10 << 20, 1024, 1 << 30),
    webhookConcurrency: integer('SWITCHBOARD_WEBHOOK_CONCURRENCY', text('SWITCHBOARD_WEBHOOK_CONCURRENCY'), 64, 1, 100_000),
    wsMaxFrameBytes: integer('SWITCHBOARD_WS_MAX_FRAME', text('SWITCHBOARD_WS_MAX_FRAME'), 1 << 20, 1024, 1 << 30),
    wsMaxInFlight: integer('SWITCHBOARD_WS_MAX_IN_FLIGHT', text('SWITCHBOARD_WS_MAX_IN_FLIGHT'), 64, 1, 100_000),
    wsMaxConnectionsPerChannel: integer(
      'SWITCHBOARD_WS_MAX_CONNECTIONS',
      text('SWITCHBOARD_WS_MAX_CONNECTIONS'),
      10_000,
      1,
      10_000_000,
    ),
    wsPingMs: integer('SWITCHBOARD_WS_PING_MS', text('SWITCHBOARD_WS_PING_MS'), 30_000, 100, 3_600_000),
    wsMaxBufferedBytes: integer('SWITCHBOARD_WS_MAX_BUFFERED', text('SWITCHBOARD_WS_MAX_BUFFERED'), 8 << 20, 1024, 1 << 30),
    eventsMaxSubscriptions: integer(
      'SWITCHBOARD_EVENTS_MAX_SUBSCRIPTIONS',
      text('SWITCHBOARD_EVENTS_MAX_SUBSCRIPTIONS'),
      100,
      1,
      100_000,
    ),
    eventMaxBytes: integer('SWITCHBOARD_EVENT_MAX_BYTES', text('SWITCHBOARD_EVENT_MAX_BYTES'), 64 << 10, 256, 512 << 10),
    eventsMaxBacklogBytes: integer(
      'SWITCHBOARD_EVENTS_MAX_BACKLOG',
      text('SWITCHBOARD_EVENTS_MAX_BACKLOG'),
      1 << 20,
      1024,
      1 << 30,
    ),
    asyncWorkers: integer('SWITCHBOARD_ASYNC_WORKERS', text('SWITCHBOARD_ASYNC_WORKERS'), 16, 1, 10_000),
    asyncAttempts: integer('SWITCHBOARD_ASYNC_ATTEMPTS', text('SWITCHBOARD_ASYNC_ATTEMPTS'), 5, 1, 100),
    asyncRetryMs: integer('SWITCHBOARD_ASYNC_RETRY_MS', text('SWITCHBOARD_ASYNC_RETRY_MS'), 1000, 1, 3_600_000),
    filesMaxBytes: integer('SWITCHBOARD_FILES_MAX_BYTES', text('SWITCHBOARD_FILES_MAX_BYTES'), 100 << 20, 1, 2 ** 40),
    tempLinkMs: 1000 * integer('SWITCHBOARD_TEMP_LINK_SECONDS', text('SWITCHBOARD_TEMP_LINK_SECONDS'), 300, 1, 86_400),
    auditKeep: integer('SWITCHBOARD_AUDIT_KEEP', text('SWITCHBOARD_AUDIT_KEEP'), 1_000_000, 1, 100_000_000),
    auditKeepDays: integer('SWITCHBOARD_AUDIT_KEEP_DAYS', text('SWITCHBOARD_AUDIT_KEEP_DAYS'), 365, 1, 100_000),
    metricsToken: secret('SWITCHBOARD_METRICS_TOKEN', text('SWITCHBOARD_METRICS_TOKEN')),
    shutdownTimeoutMs: integer('SWITCHBOARD_SHUTDOWN_TIMEOUT_MS', text('SWITCHBOARD_SHUTDOWN_TIMEOUT_MS'), 15_000, 0, 600_000),
    tracing: tracing(text),
  }
}

/**
 * The OTEL_* variables of traces (the OpenTelemetry SDK's environment specification). Off
 * unless an OTLP endpoint is set; `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` turn
 * it off all the same. Values the SDK would ignore with a warning (a malformed URL, an unknown
 * sampler) stop the start here instead.
 */
function tracing(text: (name: string) => string | undefined): TracingSettings | undefined {
  const tracesEndpoint = text('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT')
  const endpoint = text('OTEL_EXPORTER_OTLP_ENDPOINT')
  if (tracesEndpoint === undefined && endpoint === undefined) return undefined
  if (text('OTEL_SDK_DISABLED')?.toLowerCase() === 'true') return undefined
  const exporter = text('OTEL_TRACES_EXPORTER')
  if (exporter === 'none') return undefined
  if (exporter !== undefined && exporter !== 'otlp') {
    throw new ConfigError(
      `OTEL_TRACES_EXPORTER must be otlp or none (Switchboard exports OTLP over HTTP only), got '${exporter}'`,
    )
  }
  const url =
    tracesEndpoint !== undefined
      ? httpUrl('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', tracesEndpoint)
      : `${httpUrl('OTEL_EXPORTER_OTLP_ENDPOINT', endpoint as string).replace(/\/?$/, '/')}v1/traces`
  const protocolName =
    text('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') === undefined
      ? 'OTEL_EXPORTER_OTLP_PROTOCOL'
      : 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'
  const protocol = text(protocolName) ?? 'http/protobuf'
  if (protocol !== 'http/protobuf' && protocol !== 'http/json') {
    throw new ConfigError(
      `${protocolName} must be http/protobuf or http/json, got '${protocol}'` +
        (protocol === 'grpc' ? " (gRPC is not supported: point the endpoint at the collector's OTLP/HTTP port, 4318)" : ''),
    )
  }
  const sampler = oneOf('OTEL_TRACES_SAMPLER', text('OTEL_TRACES_SAMPLER'), TRACE_SAMPLERS, 'parentbased_always_on')
  const ratioText = text('OTEL_TRACES_SAMPLER_ARG')
  const samplerRatio = ratioText === undefined || !sampler.endsWith('traceidratio') ? 1 : Number(ratioText)
  if (!(samplerRatio >= 0 && samplerRatio <= 1)) {
    throw new ConfigError(`OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1, got '${ratioText}'`)
  }
  const maxQueueSize = integer('OTEL_BSP_MAX_QUEUE_SIZE', text('OTEL_BSP_MAX_QUEUE_SIZE'), 2048, 1, 1_000_000)
  const maxExportBatchSize = integer('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', text('OTEL_BSP_MAX_EXPORT_BATCH_SIZE'), 512, 1, 1_000_000)
  if (maxExportBatchSize > maxQueueSize) {
    throw new ConfigError(
      `OTEL_BSP_MAX_EXPORT_BATCH_SIZE (${maxExportBatchSize}) must not exceed OTEL_BSP_MAX_QUEUE_SIZE (${maxQueueSize})`,
    )
  }
  return {
    url,
    protocol,
    sampler,
    samplerRatio,
    batch: {
      scheduledDelayMillis: integer('OTEL_BSP_SCHEDULE_DELAY', text('OTEL_BSP_SCHEDULE_DELAY'), 5000, 1, 3_600_000),
      exportTimeoutMillis: integer('OTEL_BSP_EXPORT_TIMEOUT', text('OTEL_BSP_EXPORT_TIMEOUT'), 30_000, 1, 3_600_000),
      maxQueueSize,
      maxExportBatchSize,
    },
  }
}

function httpUrl(name: string, value: string): string {
  return url(name, value, ['http:', 'https:']) as string
}

/** How the command line reaches a running server (`switchboard channels …`, `scripts …`, `exec`, `executions tail`). */
/** What the supervisor tells a worker process it forks (workers/supervisor.ts); not user settings. */
export interface WorkerIdentity {
  /** Its slot, 0 … SWITCHBOARD_WORKERS − 1; a replacement takes the slot of the one it replaces. */
  readonly index: number
  /** The run of the node (hex): queue leases of another epoch are free (store-queue.ts). */
  readonly epoch: string
}

/** The worker's identity, when this process is a worker of a node; undefined otherwise. */
export function loadWorkerIdentity(env: Env = process.env): WorkerIdentity | undefined {
  const index = env.SWITCHBOARD_WORKER_INDEX
  const epoch = env.SWITCHBOARD_NODE_EPOCH
  if (index === undefined || epoch === undefined) return undefined
  if (!/^\d{1,3}$/.test(index) || !/^[0-9a-f]{1,32}$/.test(epoch)) {
    throw new ConfigError('SWITCHBOARD_WORKER_INDEX and SWITCHBOARD_NODE_EPOCH are set by the supervisor only')
  }
  return { index: Number(index), epoch }
}

export interface ClientConfig {
  /** The server's base URL. */
  readonly url: string
  /** An API key or the root key; undefined when none is given. */
  readonly key: string | undefined
  /** With the root key: the domain to act in (`Switchboard-Domain`). */
  readonly domain: string | undefined
}

/**
 * The client's settings: flags first, then SWITCHBOARD_URL (default http://127.0.0.1:8080),
 * SWITCHBOARD_KEY (or else SWITCHBOARD_ADMIN_KEY, the root key of a server started from the same
 * environment) and SWITCHBOARD_DOMAIN.
 */
export function loadClientConfig(
  flags: { readonly url?: string | undefined; readonly key?: string | undefined; readonly domain?: string | undefined },
  env: Env = process.env,
): ClientConfig {
  const text = (value: string | undefined) => {
    const trimmed = value?.trim()
    return trimmed === undefined || trimmed === '' ? undefined : trimmed
  }
  const base = text(flags.url) ?? text(env.SWITCHBOARD_URL) ?? 'http://127.0.0.1:8080'
  const given = flags.url !== undefined ? '--url' : 'SWITCHBOARD_URL'
  // `127.0.0.1:8080` or `localhost:8080` is the commonest slip: say what was meant.
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(base)) {
    throw new ConfigError(`${given} ${base} is not a URL: did you mean http://${base}?`)
  }
  url(given, base, ['http:', 'https:'])
  return {
    url: base.replace(/\/+$/, ''),
    key: text(flags.key) ?? text(env.SWITCHBOARD_KEY) ?? text(env.SWITCHBOARD_ADMIN_KEY),
    domain: text(flags.domain) ?? text(env.SWITCHBOARD_DOMAIN),
  }
}

function integer(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!/^\d+$/.test(value) || n < min || n > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got '${value}'`)
  }
  return n
}

function adminKey(value: string | undefined): string | undefined {
  return secret('SWITCHBOARD_ADMIN_KEY', value)
}

/** A bearer secret: long enough, and sendable as `Authorization: Bearer <secret>` (http/bearer-token.ts). */
function secret(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined
  if (value.length < 16) throw new ConfigError(`${name} must be at least 16 characters long`)
  if (!/^[\x21-\x7e]+$/.test(value)) {
    throw new ConfigError(`${name} must be visible ASCII without spaces: it is sent as Authorization: Bearer <${name}>`)
  }
  return value
}

function url(name: string, value: string | undefined, protocols: readonly string[]): string | undefined {
  if (value === undefined) return undefined
  let parsed: URL
  try {
    parsed = new URL(value)
  } catch {
    throw new ConfigError(`${name} is not a URL`)
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name} must start with ${protocols.map((p) => `${p}//`).join(' or ')}`)
  }
  return value
}

function ranges(name: string, value: string | undefined): string[] {
  if (value === undefined) return []
  const entries = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
  for (const entry of entries) {
    const problem = ipRangeProblem(entry)
    if (problem) throw new ConfigError(`${name}: ${problem}`)
  }
  return entries
}

function license(value: string | undefined): License | undefined {
  if (value === undefined) return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(value)
  } catch {
    throw new ConfigError('SWITCHBOARD_LICENSE must be a JSON object such as {"public": 10}')
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError('SWITCHBOARD_LICENSE must be a JSON object such as {"public": 10}')
  }
  for (const [type, limit] of Object.entries(parsed)) {
    if (!Number.isInteger(limit) || (limit as number) < 0) {
      throw new ConfigError(`SWITCHBOARD_LICENSE: the limit of '${type}' must be a non-negative integer`)
    }
  }
  return Object.freeze(parsed as Record<string, number>)
}

function natsPrefix(value: string | undefined): string {
  if (value === undefined) return 'sb'
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(value)) {
    throw new ConfigError('SWITCHBOARD_NATS_PREFIX must be 1-32 letters, digits, _ or - (it names NATS subjects and streams)')
  }
  return value
}

function logLevel(value: string | undefined): LogLevel {
  if (value === undefined) return 'info'
  if (!(LOG_LEVELS as readonly string[]).includes(value)) {
    throw new ConfigError(`SWITCHBOARD_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`)
  }
  return value as LogLevel
}

function oneOf<T extends string>(name: string, value: string | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback
  if (!(allowed as readonly string[]).includes(value)) throw new ConfigError(`${name} must be one of ${allowed.join(', ')}`)
  return value as T
}

/** `1`/`true` or `0`/`false`; unset is false. */
function flag(name: string, value: string | undefined): boolean {
  if (value === undefined || value === '0' || value === 'false') return false
  if (value === '1' || value === 'true') return true
  throw new ConfigError(`${name} must be 1 or 0`)
}

function schemaName(value: string | undefined): string | undefined {
  if (value !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(value)) {
    throw new ConfigError('SWITCHBOARD_DATABASE_SCHEMA must be 1-63 lower-case letters, digits or _, not starting with a digit')
  }
  return value
}
