import { AppError } from '../errors.ts'
import { tooDeepMessage } from '../http/json-body.ts'
import { jsonTooDeep } from '../http/json-depth.ts'

/** What a webhook request gives its script: start parameters 2–7 (SPEC §5.2) and `request`. */
export interface WebhookInput {
  readonly method: string
  /** Path and query as received, the token segment replaced by `~` (start parameter 3). */
  readonly url: string
  /** The sub-path after `/exec` and the token; `/` if none. */
  readonly path: string
  readonly query: Record<string, string | string[]>
  readonly headers: Record<string, string>
  readonly body: unknown
  /** The raw body, base64 (empty when there is none). */
  readonly rawBody: string
  readonly ip: string
  readonly protocol: string
}

/** A webhook input as records and jobs keep it: the parsed body is left out (`rawBody` has it). */
export type StoredWebhookInput = Omit<WebhookInput, 'body'>

export function storedInput(input: WebhookInput): StoredWebhookInput {
  const { body: _parsed, ...stored } = input
  return stored
}

/** The input again, its body parsed from `rawBody` as it was on arrival. */
export function restoredInput(stored: StoredWebhookInput): WebhookInput {
  const raw = stored.rawBody === '' ? undefined : Buffer.from(stored.rawBody, 'base64')
  return { ...stored, body: parseBody(raw, stored.headers['content-type']) }
}

/** Where the token came from, and what the URL looks like without it. */
export interface TokenPlace {
  readonly token: string | undefined
  /** Path as received, the token segment replaced by `~`. */
  readonly shownPath: string
  readonly subPath: string
  /** The token came in `Authorization: Bearer`. */
  readonly fromHeader: boolean
}

/**
 * Finds the token (SPEC §5.1): with `Authorization: Bearer`, everything after `/exec` is the
 * sub-path; otherwise the first segment after `/exec/` is the token.
 */
export function placeToken(rawPath: string, authorization: string | undefined): TokenPlace {
  const rest = rawPath.slice('/exec'.length)
  const bearer = authorization === undefined ? undefined : /^Bearer +(\S+) *$/i.exec(authorization)?.[1]
  if (bearer !== undefined) return { token: bearer, shownPath: rawPath, subPath: rest === '' ? '/' : rest, fromHeader: true }
  if (rest === '' || rest === '/') return { token: undefined, shownPath: rawPath, subPath: '/', fromHeader: false }
  const slash = rest.indexOf('/', 1)
  const token = slash === -1 ? rest.slice(1) : rest.slice(1, slash)
  const subPath = slash === -1 ? '/' : rest.slice(slash)
  return { token, shownPath: `/exec/~${slash === -1 ? '' : rest.slice(slash)}`, subPath, fromHeader: false }
}

/** The query string as an object; a repeated key gives an array. */
export function queryObject(search: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = Object.create(null)
  for (const [key, value] of new URLSearchParams(search)) {
    const before = query[key]
    query[key] = before === undefined ? value : Array.isArray(before) ? [...before, value] : [before, value]
  }
  return { ...query }
}

/**
 * Request headers for the script and the record: lower-case names, repeated ones joined. The
 * channel's token never reaches them: a Bearer `Authorization` header shows as `Bearer ~`.
 */
export function headerObject(
  headers: Record<string, string | string[] | undefined>,
  tokenInHeader: boolean,
): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue
    out[name] = Array.isArray(value) ? value.join(', ') : value
  }
  if (tokenInHeader && out.authorization !== undefined) out.authorization = 'Bearer ~'
  return out
}

/**
 * The body as start parameter 4: JSON for `application/json` (and `+json`), an object for
 * `application/x-www-form-urlencoded`, a string for `text/*`, else the raw bytes as base64.
 * Malformed JSON is refused (1400) before any script runs.
 */
export function parseBody(raw: Buffer | undefined, contentType: string | undefined): unknown {
  if (raw === undefined || raw.length === 0) return null
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
  if (type === 'application/json' || type.endsWith('+json')) {
    const text = raw.toString('utf8')
    if (jsonTooDeep(text)) throw new AppError('bad_request', tooDeepMessage())
    try {
      return JSON.parse(text)
    } catch (error) {
      throw new AppError('bad_request', `the body is not valid JSON${error instanceof SyntaxError ? `: ${error.message}` : ''}`)
    }
  }
  if (type === 'application/x-www-form-urlencoded') return queryObject(raw.toString('utf8'))
  if (type.startsWith('text/')) return raw.toString('utf8')
  return raw.toString('base64')
}
