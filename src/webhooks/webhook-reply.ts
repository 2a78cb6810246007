import { validateHeaderName, validateHeaderValue } from 'node:http'

/** What a sync webhook answers (SPEC §5.3). */
export interface WebhookReply {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body: string | Uint8Array
}

/**
 * Sent with every answer of `/exec`, over whatever the script set: a reply never runs as a page of
 * this origin, where the console keeps its key (an HTML reply is shown in a sandbox, with an
 * origin of its own and no script), and browsers never guess another type than the one sent.
 */
export const REPLY_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': 'sandbox',
  'x-content-type-options': 'nosniff',
}

/**
 * Headers a script may not set: hop-by-hop ones (the server manages the connection and the
 * framing) and those that would act on the server's own origin — cookies, CORS, HSTS, CSP,
 * content sniffing, service worker scope — which a channel's script has no business deciding
 * for every other user of the server.
 */
const REFUSED = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'content-length',
  'host',
  'date',
  'set-cookie',
  'set-cookie2',
  'strict-transport-security',
  'content-security-policy',
  'content-security-policy-report-only',
  'x-content-type-options',
  'service-worker-allowed',
  'alt-svc',
  'clear-site-data',
  'public-key-pins',
  'www-authenticate',
  'proxy-authenticate',
])

/** The reply from the script's variables: `status` (default 200), `headers`, `result`. */
export function replyFrom(variables: Record<string, unknown>): WebhookReply | string {
  const status = variables.status ?? 200
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 599) {
    return `vars.status must be an integer from 200 to 599, not ${JSON.stringify(status)}`
  }
  const headers: Record<string, string> = {}
  const given = variables.headers
  if (given !== undefined && given !== null) {
    if (typeof given !== 'object' || Array.isArray(given)) return 'vars.headers must be an object of header names and values'
    for (const [rawName, rawValue] of Object.entries(given)) {
      const name = rawName.toLowerCase()
      if (REFUSED.has(name) || name.startsWith('access-control-') || name.startsWith('proxy-')) continue
      if (typeof rawValue !== 'string' && typeof rawValue !== 'number') continue
      const value = String(rawValue)
      if (!checkHeaderValue(name, value)) continue
      headers[name] = value
    }
  }
  const result = variables.result
  let body: string | Uint8Array
  if (result === undefined || result === null) {
    body = result === null ? 'null' : ''
    if (result === null) headers['content-type'] ??= 'application/json; charset=utf-8'
  } else if (typeof result === 'string') {
    body = result
    headers['content-type'] ??= 'text/plain; charset=utf-8'
  } else if (result instanceof Uint8Array) {
    body = result
    headers['content-type'] ??= 'application/octet-stream'
  } else {
    body = JSON.stringify(result)
    headers['content-type'] ??= 'application/json; charset=utf-8'
  }
  return { status, headers, body }
}

/** True when Node would send this header: a token name, a value without control characters. */
function checkHeaderValue(name: string, value: string): boolean {
  try {
    validateHeaderName(name)
    validateHeaderValue(name, value)
    return true
  } catch {
    return false
  }
}
