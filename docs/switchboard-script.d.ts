/**
 * What a Switchboard service script can use (docs/scripting.md). Put this file next to your
 * scripts, or in your tsconfig's `files`, for completion and type checks in an editor. A script's
 * source is the body of an async function: editors may flag a top-level `return`, the server
 * does not.
 */

/** Start parameter `n` (1-based) as the trigger passed it; `undefined` when absent. */
declare function startparam(n: number): unknown

/**
 * The script's variables: when it ends they are its output. A webhook answers with `status`,
 * `headers` and `result`. Values must be JSON, or `Uint8Array` (kept as bytes).
 */
declare const vars: {
  status?: number
  headers?: Record<string, string>
  result?: unknown
  [name: string]: unknown
}

/** The webhook request, or `null` for other triggers. */
declare const request: {
  readonly method: string
  /** The sub-path after `/exec` and the token; `/` if none. */
  readonly path: string
  readonly query: Readonly<Record<string, string | string[]>>
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string>>
  /** JSON for application/json, an object for forms, a string for text/*, else base64. */
  readonly body: unknown
  /** The raw body, base64. */
  readonly rawBody: string
  readonly ip: string
  readonly protocol: string
  /**
   * Present when the channel's `opts.verify` checked the request's signature (a request that
   * fails the check never reaches a script): the scheme, the sender's message id
   * (standard-webhooks) and the signed timestamp in seconds (standard-webhooks, stripe, slack).
   */
  readonly verified?: {
    readonly scheme: 'standard-webhooks' | 'stripe' | 'github' | 'slack' | 'hmac'
    readonly id?: string
    readonly timestamp?: number
  }
} | null

/** The channel the execution belongs to (its entity without `token_local`), or `null`. */
declare const channel: {
  readonly id: string
  readonly code: string
  readonly type: string
  readonly token_remote: string
  readonly token_remote2: string
  readonly ipmask: readonly string[]
  readonly url: string
  readonly recv_svcscriptcode: string
  readonly send_svcscriptcode: string
  readonly recv_svcscriptcode_ws: string
  readonly send_svcscriptcode_ws: string
  readonly opts: {
    readonly allow_files_api: boolean
    readonly comment: string
    readonly issync: boolean
    readonly recv_timeout: number
    readonly roles: readonly string[]
    readonly userid: string | null
    readonly title: string
    readonly filter_capabilities: readonly string[]
  }
  readonly ext: Readonly<Record<string, unknown>>
} | null

/** Lines in the execution's log: strings as they are, other values as JSON. */
declare const log: {
  debug(...values: unknown[]): void
  info(...values: unknown[]): void
  warn(...values: unknown[]): void
  error(...values: unknown[]): void
}

declare namespace http {
  interface RequestOptions {
    /** Default GET. */
    method?: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS'
    /** Absolute http(s) URL, or relative to `channel.url`. */
    url: string
    /** `x-request-id` is added (the id of the request behind this execution) unless set here. */
    headers?: Record<string, string | number>
    /** A string, bytes, or any JSON value (sent as application/json). At most 5 MiB. */
    body?: unknown
    /** ms, default 10,000, at most 60,000. */
    timeout?: number
  }
  interface Response {
    readonly status: number
    /** Lower-case names; repeated headers joined with ", ". */
    readonly headers: Readonly<Record<string, string>>
    /** The response text (UTF-8), at most 5 MiB. */
    readonly body: string
    /** `JSON.parse(body)`. */
    json(): unknown
  }
  /** Outbound HTTP. Private, loopback and link-local addresses are refused unless allowed. */
  function request(options: RequestOptions): Promise<Response>
}

declare namespace crypto {
  type Algorithm = 'md5' | 'sha1' | 'sha256' | 'sha512'
  type Encoding = 'hex' | 'base64' | 'base64url'
  type Data = string | Uint8Array
  function hash(alg: Algorithm, data: Data, enc?: Encoding): string
  function hmac(alg: Algorithm, key: Data, data: Data, enc?: Encoding): string
  function randomUUID(): string
  /** Constant-time comparison; `false` for inputs of different lengths. */
  function timingSafeEqual(a: Data, b: Data): boolean
}

/** Waits `ms` milliseconds without using CPU. */
declare function sleep(ms: number): Promise<void>

declare namespace ws {
  interface SendOptions {
    /** Wait for the client's `<name>_result` answer (one connection only); `data` gets a `qid`. */
    sync?: boolean
    /** ms to wait for the answer, default 10,000, at most 60,000. */
    timeout?: number
  }
  /**
   * Pushes `[name, data]` to a websocket connection (by id) or to every connection of a channel.
   * With `sync`, resolves with the client's answer payload; otherwise with `null`.
   */
  function send(target: string | { channel: string }, name: string, data: unknown, options?: SendOptions): Promise<unknown>
}

declare namespace events {
  /**
   * Emits the project event `projectevents.<name>` in this domain (docs/events.md). `name`: 1–64
   * letters, digits, `_` or `-`; `data`: JSON, at most 64 KiB by default. Resolves with the event id.
   */
  function emit(name: string, data?: unknown): Promise<string>
}

declare namespace channels {
  /**
   * Runs the `send_svcscriptcode` of channel `code` (of this domain) with startparam 1 = that
   * channel and 2 = `message`, and resolves with its variables. Its `http.request` calls resolve
   * relative URLs against that channel's `url`. Fails when the channel or its send script does not
   * exist, or the send script fails.
   */
  function send(code: string, message: unknown): Promise<Record<string, unknown>>
  /**
   * Delivers `payload` to channel `code`'s `url` as a signed, durable, retried webhook
   * (docs/deliveries.md) and resolves with its id once it is stored. `id` makes it idempotent:
   * the same id on the same channel answers the existing delivery.
   */
  function deliver(
    code: string,
    payload: unknown,
    options?: { event_type?: string; id?: string },
  ): Promise<{ delivery_id: string }>
}

declare namespace files {
  /** A file of the domain, as listings show it. */
  interface Entry {
    readonly path: string
    readonly size: number
    readonly content_type: string
    /** RFC 3339 UTC. */
    readonly mtime: string
  }
  /**
   * The file at `path` (relative, normalised; `..` and the like are refused): as text (UTF-8,
   * the default), as bytes, or parsed as JSON. At most 8 MiB.
   */
  function read(path: string): Promise<string>
  function read(path: string, options: { as: 'text' }): Promise<string>
  function read(path: string, options: { as: 'bytes' }): Promise<Uint8Array>
  function read(path: string, options: { as: 'json' }): Promise<unknown>
  /**
   * Writes (or replaces) the file: a string as UTF-8, bytes as they are, any other value as JSON.
   * The content type is `options.contentType`, else guessed from the name, else text/plain for a
   * string, application/json for a value, application/octet-stream for bytes. At most 8 MiB.
   */
  function write(path: string, data: string | Uint8Array | object | number | boolean, options?: { contentType?: string }): Promise<Entry>
  /** The files whose path starts with `prefix` (default all), by path; at most 1000 at a time. */
  function list(prefix?: string, options?: { offset?: number; limit?: number }): Promise<Entry[]>
  /** Deletes the file; `false` when there was none. */
  function remove(path: string): Promise<boolean>
  /** A link (`/temp/<secret>`, a path on this server) that serves the file without auth for 5 minutes. */
  function tempLink(path: string): Promise<string>
}

declare namespace api {
  interface Answer {
    readonly status: number
    /** The parsed JSON answer (error bodies too: `{error_code, error_message}`), or its text. */
    readonly body: unknown
  }
  /**
   * A call of the project's REST API (`/rest/v1/…`, query string allowed) with the channel
   * token's rights: its `opts.roles` plus the roles of its `opts.userid` user. A call they do not
   * allow answers `status: 403`. Changes are audited as the `opts.userid` user via the channel
   * (as the channel when it names no user).
   */
  function request(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<Answer>
}
