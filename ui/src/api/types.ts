/** The entities of the REST API as the console reads them (SPEC §3–§5, §10). */

interface Ext {
  readonly ct: string
  readonly lwt: string
  readonly [key: string]: unknown
}

export interface ChannelOpts {
  allow_files_api: boolean
  comment: string
  issync: boolean
  recv_timeout: number
  roles: string[]
  userid: string | null
  title: string
  filter_capabilities: string[]
  /** Absent: webhooks are not checked. Its secrets come back masked (write-only). */
  verify?: VerifySettings
}

export type VerifyScheme = 'standard-webhooks' | 'stripe' | 'github' | 'slack' | 'hmac'

export interface VerifySettings {
  scheme: VerifyScheme
  secrets: string[]
  tolerance_s?: number
  header?: string
  prefix?: string
  algorithm?: 'sha1' | 'sha256' | 'sha512'
  encoding?: 'hex' | 'base64'
}

export interface Channel {
  readonly id: string
  code: string
  type: string
  token_local: string
  token_remote: string
  token_remote2: string
  ipmask: string[]
  url: string
  recv_svcscriptcode: string
  send_svcscriptcode: string
  recv_svcscriptcode_ws: string
  send_svcscriptcode_ws: string
  opts: ChannelOpts
  readonly ext: Ext
}

export interface Script {
  readonly id: string
  code: string
  name: string
  lang: 'js' | 'ts'
  source: string
  opts: { title: string; comment: string; loglevel: 'debug' | 'info' | 'warn' | 'error' }
  /** Set when this version held an isolate V8 could not stop: it runs in script hosts only (SPEC §13). */
  readonly quarantined?: { readonly since: string; readonly reason: string; readonly version: string }
  /** Counts the saves that changed the source (GET …/versions lists them). */
  readonly version?: number
  /** Only in the answer to a save of a TypeScript script: where it does not type-check. */
  readonly warnings?: readonly { readonly line: number; readonly column: number; readonly message: string }[]
  readonly ext: Ext
}

export interface ScriptVersion {
  readonly version: number
  readonly saved_at: string
  readonly actor: { readonly kind: string; readonly id: string; readonly key_id?: string }
  readonly lang: 'js' | 'ts'
  readonly source: string
}

export interface LogLine {
  readonly ms: number
  readonly level: 'debug' | 'info' | 'warn' | 'error'
  readonly text: string
}

export interface ExecutionError {
  readonly message: string
  readonly line?: number
  readonly column?: number
}

export type ExecutionStatus = 'queued' | 'running' | 'retrying' | 'ok' | 'error' | 'timeout' | 'aborted'

export interface Execution {
  readonly id: string
  readonly channel_id: string | null
  readonly script_code: string
  readonly trigger: string
  readonly status: ExecutionStatus
  readonly started_at: string
  readonly duration_ms: number
  readonly input: unknown
  readonly output: unknown
  readonly logs: readonly LogLine[]
  readonly error: ExecutionError | null
  readonly replay_of: string | null
  readonly attempts?: readonly { at: string; status: string; duration_ms: number; error: ExecutionError | null }[]
  readonly attempt?: number
  readonly max_attempts?: number
  readonly next_attempt_at?: string
  readonly script_version?: number
}

/** `POST /svcscripts/<id>/run`. */
export interface RunAnswer {
  readonly execution_id: string
  readonly status: ExecutionStatus
  readonly variables: Record<string, unknown>
  readonly logs: readonly LogLine[]
  readonly error: ExecutionError | null
  readonly duration_ms: number
}

export interface LicenseRow {
  readonly type: string
  readonly limit: number | null
  readonly used: number
}

export interface Connection {
  readonly id: string
  readonly channel_id: string
  readonly channel_code: string
  readonly ip: string
  readonly opened_at: string
  /** The cluster node that holds it. */
  readonly node: string
}

export interface User {
  readonly id: string
  login: string
  name: string
  roles: string[]
  readonly ext: Ext
}

export interface ApiKey {
  readonly id: string
  readonly userid: string
  name: string
  readonly key?: string
  /** When it last authenticated a call, to about a minute; null or absent: never. */
  readonly last_used_at?: string | null
  readonly ext: Ext
}

/** The verbs a permission may name (`*` = all of them). */
export const PERMISSION_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'LOOKUP', 'WEBSOCKET', '*'] as const
export type PermissionMethod = (typeof PERMISSION_METHODS)[number]

export interface Permission {
  route: string
  methods: PermissionMethod[]
}

export interface Role {
  readonly id: string
  code: string
  name: string
  permissions: Permission[]
  readonly ext: Ext
}

/** A file of the domain's space, as the files API lists it (SPEC §9). */
export interface FileEntry {
  readonly path: string
  readonly size: number
  readonly content_type: string
  readonly mtime: string
}

export interface AuditEntry {
  readonly id: string
  readonly ts: string
  readonly actor: { readonly kind: 'root' | 'user' | 'channel'; readonly id: string; readonly key_id?: string }
  readonly collection: string
  readonly entity_id: string
  readonly operation: 'create' | 'update' | 'delete'
  readonly fields: readonly string[]
  readonly changes?: readonly {
    readonly field: string
    readonly before?: unknown
    readonly after?: unknown
    readonly withheld?: 'secret' | 'long'
  }[]
}

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed' | 'cancelled'

interface DeliveryAttempt {
  readonly at: string
  readonly status_code: number | null
  readonly duration_ms: number
  readonly error: string | null
  readonly response_excerpt: string | null
}

export interface Delivery {
  readonly id: string
  readonly channel_id: string
  readonly event_type: string | null
  readonly payload: unknown
  readonly status: DeliveryStatus
  readonly attempts: DeliveryAttempt[]
  readonly next_attempt_at: string | null
  readonly created_at: string
}
