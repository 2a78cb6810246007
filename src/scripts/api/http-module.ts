import { request as httpRequest, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { EgressGuard } from '../../net/egress.ts'
import { startHttpClientSpan } from '../../tracing/http-client-span.ts'
import type { Tracing } from '../../tracing/tracing.ts'
import { MAX_TIMEOUT_MS } from '../run-limits.ts'
import { type ExecutionScope, type HostModule, ScriptApiError } from '../runtime/host-api.ts'

export interface HttpModuleOptions {
  readonly egress: EgressGuard
  /** Default request timeout, ms (SPEC §4: 10,000). */
  readonly defaultTimeoutMs: number
  /** Largest response body kept, bytes. */
  readonly maxResponseBytes: number
  /** Largest request body sent, bytes. */
  readonly maxRequestBytes: number
  /** Told about each call once it ended, for the server's log. Default: none. */
  readonly onCall?: (note: HttpCallNote) => void
  /**
   * Each call gets a client span (a child of the run's) and carries it to the server called as
   * `traceparent`/`tracestate`, unless the script set those headers itself. Default: off, and
   * no trace header is added.
   */
  readonly tracing?: Tracing | undefined
}

/** One outbound call, as the server's log shows it (the URL without its query string). */
export interface HttpCallNote {
  readonly reqId: string | undefined
  readonly execution_id: string
  readonly method: string
  readonly url: string
  readonly status: number | undefined
  readonly error: string | undefined
  readonly ms: number
  /** With tracing on: the trace of the call's span. */
  readonly trace_id?: string
}

/** Outbound calls carry the id of the request that caused them, unless the script sets its own. */
const REQUEST_ID_HEADER = 'x-request-id'

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])

interface HttpAnswer {
  status: number
  headers: Record<string, string>
  body: string
}

/**
 * `http.request({method, url, headers, body, timeout})` (SPEC §4): outbound HTTP from scripts.
 * Relative URLs resolve against the channel's `url`; private and loopback addresses are refused
 * (resolved addresses are checked, not only names); redirects are not followed (the script sees
 * the 3xx); every call is written to the execution log without query string or credentials.
 */
export function httpModule(options: HttpModuleOptions): HostModule {
  return {
    name: 'http',
    guest: `(call, callSync, { parse }) => ({
      request: async (options) => {
        const answer = await call('request', options)
        return { status: answer.status, headers: answer.headers, body: answer.body, json() { return parse(answer.body) } }
      },
    })`,
    functions: {
      request: { run: (scope, [input]) => send(scope, input, options) },
    },
  }
}

async function send(scope: ExecutionScope, input: unknown, options: HttpModuleOptions): Promise<HttpAnswer> {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ScriptApiError('http.request needs an options object: {method, url, headers, body, timeout}')
  }
  const {
    method: rawMethod = 'GET',
    url: rawUrl,
    headers: rawHeaders = {},
    body: rawBody,
    timeout = options.defaultTimeoutMs,
  } = input as Record<string, unknown>
  const method = typeof rawMethod === 'string' ? rawMethod.toUpperCase() : ''
  if (!METHODS.has(method)) throw new ScriptApiError(`http.request: method must be one of ${[...METHODS].join(', ')}`)
  if (typeof rawUrl !== 'string' || rawUrl === '') throw new ScriptApiError('http.request: url must be a non-empty string')
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0) {
    throw new ScriptApiError('http.request: timeout must be a positive number of milliseconds')
  }
  const url = resolveUrl(rawUrl, scope)
  const headers = checkHeaders(rawHeaders)
  if (scope.requestId !== null) headers[REQUEST_ID_HEADER] ??= scope.requestId
  const body = encodeBody(rawBody, headers, options.maxRequestBytes)
  const refused = options.egress.literalRefusal(url.hostname)
  if (refused) throw new ScriptApiError(`http.request refused: ${refused}`)

  const span = options.tracing && startHttpClientSpan(options.tracing, scope.trace, method, url)
  span?.inject(headers)
  const started = performance.now()
  const shown = `${url.origin}${url.pathname}${url.search === '' ? '' : '?…'}`
  const noted = (status: number | undefined, error: string | undefined, ms: number) =>
    options.onCall?.({
      reqId: scope.requestId ?? undefined,
      execution_id: scope.executionId,
      method,
      url: shown,
      status,
      error,
      ms,
      ...(span && { trace_id: span.span.traceId }),
    })
  try {
    const answer = await exchange(url, method, headers, body, Math.min(timeout, MAX_TIMEOUT_MS), scope.signal, options)
    const ms = Math.round(performance.now() - started)
    scope.log('info', `http ${method} ${shown} → ${answer.status} (${ms} ms)`)
    noted(answer.status, undefined, ms)
    span?.answered(answer.status)
    return answer
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    const ms = Math.round(performance.now() - started)
    scope.log('warn', `http ${method} ${shown} failed: ${reason} (${ms} ms)`)
    noted(undefined, reason, ms)
    span?.failed(reason, failureType(error, scope.signal))
    throw new ScriptApiError(`http.request ${method} ${shown} failed: ${reason}`)
  }
}

/** `error.type` of a call without an answer: the semantic conventions' low-cardinality reason. */
function failureType(error: unknown, ended: AbortSignal): string {
  if (ended.aborted) return 'aborted'
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string') return code
  return error instanceof Error && error.message.startsWith('no answer within') ? 'timeout' : '_OTHER'
}

function resolveUrl(raw: string, scope: ExecutionScope): URL {
  let url: URL
  const absolute = /^[a-z][a-z0-9+.-]*:/i.test(raw)
  if (scope.relativeUrlsOnly && (absolute || namesHost(raw))) throw outsideBase(raw, scope)
  try {
    url = absolute ? new URL(raw) : new URL(raw, baseOf(scope))
  } catch (error) {
    if (error instanceof ScriptApiError) throw error
    throw new ScriptApiError(`http.request: '${raw}' is not a valid URL`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ScriptApiError('http.request: only http and https URLs')
  if (scope.relativeUrlsOnly && !under(url, new URL(baseOf(scope)))) throw outsideBase(raw, scope)
  return url
}

/** Whether `raw` names a host of its own (`//host/x`, `\\host`, ` https://x`), however it is spelled. */
function namesHost(raw: string): boolean {
  try {
    return new URL(raw, PROBE_BASE).host !== PROBE_HOST
  } catch {
    return false
  }
}
const PROBE_HOST = 'relative.invalid'
const PROBE_BASE = `http://${PROBE_HOST}/`

/**
 * Whether `url` stays at or below `base`: its origin, and a path under the base's path. Checked
 * on the resolved URL, so `//host/x`, `/x`, `../x` and their encoded forms are judged where they
 * really lead.
 */
function under(url: URL, base: URL): boolean {
  return url.origin === base.origin && url.pathname.startsWith(base.pathname)
}

/** A channel type with `relative_urls_only` (SPEC §3.1): its scripts name paths under the channel's url only. */
function outsideBase(raw: string, scope: ExecutionScope): ScriptApiError {
  const shown = raw.length > 200 ? `${raw.slice(0, 200)}…` : raw
  return new ScriptApiError(
    `http.request: channels of type '${scope.channel?.type ?? ''}' may call only paths relative to the channel's url ` +
      `(relative_urls_only); '${shown}' is not one`,
  )
}

function baseOf(scope: ExecutionScope): string {
  const base = scope.channel?.url ?? ''
  if (base === '') throw new ScriptApiError('http.request: a relative url needs a channel with a url')
  return base.endsWith('/') ? base : `${base}/`
}

function checkHeaders(raw: unknown): Record<string, string> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new ScriptApiError('http.request: headers must be an object')
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(raw)) {
    if (typeof value !== 'string' && typeof value !== 'number') {
      throw new ScriptApiError(`http.request: header ${name} must be a string`)
    }
    headers[name.toLowerCase()] = String(value)
  }
  return headers
}

function encodeBody(raw: unknown, headers: Record<string, string>, max: number): Buffer | undefined {
  if (raw === undefined || raw === null) return undefined
  let body: Buffer
  if (typeof raw === 'string') body = Buffer.from(raw)
  else if (raw instanceof Uint8Array) body = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength)
  else {
    body = Buffer.from(JSON.stringify(raw))
    headers['content-type'] ??= 'application/json'
  }
  if (body.length > max) throw new ScriptApiError(`http.request: the body is ${body.length} bytes; the limit is ${max}`)
  return body
}

function exchange(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: Buffer | undefined,
  timeoutMs: number,
  signal: AbortSignal,
  options: HttpModuleOptions,
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest
    const request = send(url, {
      method,
      headers: body ? { ...headers, 'content-length': String(body.length) } : headers,
      lookup: options.egress.lookup,
      signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
    })
    request.on('error', (error) =>
      reject(
        error.name === 'AbortError'
          ? new Error(signal.aborted ? 'the execution ended' : `no answer within ${timeoutMs} ms`)
          : error,
      ),
    )
    request.on('response', (response: IncomingMessage) => {
      const chunks: Buffer[] = []
      let size = 0
      response.on('data', (chunk: Buffer) => {
        size += chunk.length
        if (size > options.maxResponseBytes) {
          request.destroy(new Error(`the response is larger than ${options.maxResponseBytes} bytes`))
          return
        }
        chunks.push(chunk)
      })
      response.on('error', reject)
      response.on('end', () => {
        const answerHeaders: Record<string, string> = {}
        for (const [name, value] of Object.entries(response.headers)) {
          if (value !== undefined) answerHeaders[name] = Array.isArray(value) ? value.join(', ') : value
        }
        resolve({ status: response.statusCode ?? 0, headers: answerHeaders, body: Buffer.concat(chunks).toString('utf8') })
      })
    })
    request.end(body)
  })
}
