import { AppError } from '../errors.ts'
import { bearerToken } from '../http/bearer-token.ts'
import { tooDeepMessage } from '../http/json-body.ts'
import { jsonTooDeep } from '../http/json-depth.ts'
import type { Verified } from './signatures.ts'

/**
 * A webhook's body as received, read once by its content type: JSON (`application/json`, `+json`),
 * a form (`application/x-www-form-urlencoded`), text (`text/*`), or bytes. The JSON text is not
 * parsed here on the way to a script: the isolate parses it (one pass), and a malformed one is
 * refused from there before the script runs.
 */
export type WebhookBody =
  | { readonly kind: 'none' }
  | { readonly kind: 'json'; readonly text: string; readonly bytes: Uint8Array }
  | { readonly kind: 'form'; readonly text: string; readonly bytes: Uint8Array }
  | { readonly kind: 'text'; readonly text: string; readonly bytes: Uint8Array }
  | { readonly kind: 'binary'; readonly bytes: Uint8Array }

/** What a webhook request gives its script: start parameters 2–7 (SPEC §5.2) and `request`. */
export interface WebhookInput {
  readonly method: string
  /** Path and query as received, the token segment replaced by `~` (start parameter 3). */
  readonly url: string
  /** The sub-path after `/exec` and the token; `/` if none. */
  readonly path: string
  readonly query: Record<string, string | string[]>
  readonly headers: Record<string, string>
  readonly body: WebhookBody
  readonly ip: string
  readonly protocol: string
  /** The signature the channel's `opts.verify` checked (`request.verified` for scripts); absent: none. */
  readonly verified?: Verified
}

/**
 * A webhook input as records and jobs keep it (SPEC §5.6): the body readable — JSON as JSON, a
 * form or text as its text, bytes as base64 with `body_encoding: "base64"`.
 */
export interface StoredWebhookInput {
  readonly method: string
  readonly url: string
  readonly path: string
  readonly query: Record<string, string | string[]>
  readonly headers: Record<string, string>
  readonly body: unknown
  readonly body_encoding?: 'base64'
  readonly ip: string
  readonly protocol: string
  readonly verified?: Verified
  /** Records written before 0.2 kept the body only as this (base64). */
  readonly rawBody?: string
}

/** Reads a body by its content type (see WebhookBody). */
export function readBody(raw: Uint8Array | undefined, contentType: string | undefined): WebhookBody {
  if (raw === undefined || raw.length === 0) return { kind: 'none' }
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
  const text = () => Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8')
  if (type === 'application/json' || type.endsWith('+json')) {
    const json = text()
    if (jsonTooDeep(json)) throw new AppError('bad_request', tooDeepMessage())
    return { kind: 'json', text: json, bytes: raw }
  }
  if (type === 'application/x-www-form-urlencoded') return { kind: 'form', text: text(), bytes: raw }
  if (type.startsWith('text/')) return { kind: 'text', text: text(), bytes: raw }
  return { kind: 'binary', bytes: raw }
}

/** The error of a JSON body that does not parse (1400), with V8's own words for where. */
export function malformedJson(text: string): AppError {
  try {
    JSON.parse(text)
  } catch (error) {
    return new AppError('bad_request', `the body is not valid JSON${error instanceof SyntaxError ? `: ${error.message}` : ''}`)
  }
  return new AppError('bad_request', 'the body is not valid JSON')
}

/** The body as the script's `request.body` sees it, as JSON text — a JSON body's own text, unparsed. */
export function scriptBodyJson(body: WebhookBody): string {
  switch (body.kind) {
    case 'none':
      return 'null'
    case 'json':
      return body.text
    case 'form':
      return JSON.stringify(queryObject(body.text))
    case 'text':
      return JSON.stringify(body.text)
    case 'binary':
      return JSON.stringify(Buffer.from(body.bytes.buffer, body.bytes.byteOffset, body.bytes.byteLength).toString('base64'))
  }
}

/**
 * The input as records and jobs keep it. A JSON body is kept as its value: `parsed` when the
 * caller has it, else the text is parsed (it has been checked: by the isolate, or by the accept).
 */
export function storedInput(input: WebhookInput, parsed?: unknown): StoredWebhookInput {
  const { body, ...rest } = input
  switch (body.kind) {
    case 'none':
      return { ...rest, body: null }
    case 'json':
      return { ...rest, body: parsed === undefined ? JSON.parse(body.text) : parsed }
    case 'form':
    case 'text':
      return { ...rest, body: body.text }
    case 'binary':
      return {
        ...rest,
        body: Buffer.from(body.bytes.buffer, body.bytes.byteOffset, body.bytes.byteLength).toString('base64'),
        body_encoding: 'base64',
      }
  }
}

/** The input again from what a record or a job kept (also the pre-0.2 form with `rawBody`). */
export function restoredInput(stored: StoredWebhookInput): WebhookInput {
  const { body, body_encoding, rawBody, ...rest } = stored
  let bytes: Uint8Array | undefined
  if (rawBody !== undefined) bytes = rawBody === '' ? undefined : Buffer.from(rawBody, 'base64')
  else if (body === null || body === undefined) bytes = undefined
  else if (body_encoding === 'base64') bytes = Buffer.from(String(body), 'base64')
  else bytes = Buffer.from(typeof body === 'string' && !isJsonType(stored.headers['content-type']) ? body : JSON.stringify(body))
  return { ...rest, body: readBody(bytes, stored.headers['content-type']) }
}

function isJsonType(contentType: string | undefined): boolean {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
  return type === 'application/json' || type.endsWith('+json')
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
  const bearer = bearerToken(authorization)
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
