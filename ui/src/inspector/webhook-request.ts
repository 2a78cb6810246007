/** A webhook's input as the execution record keeps it (`input.webhook`). */
export interface RecordedWebhook {
  readonly method: string
  readonly url: string
  readonly path: string
  readonly query: Readonly<Record<string, string | string[]>>
  readonly headers: Readonly<Record<string, string>>
  readonly body: unknown
  readonly body_encoding?: 'base64'
  readonly ip: string
  readonly protocol: string
}

/** The webhook an execution recorded, or null for other triggers (and inputs too large to keep). */
export function webhookOf(input: unknown): RecordedWebhook | null {
  const webhook = (input as { webhook?: unknown } | null)?.webhook
  return webhook !== null && typeof webhook === 'object' ? (webhook as RecordedWebhook) : null
}

/**
 * Headers a browser or the transport adds that say nothing about the integration: folded away
 * in the inspector (still one click away), left out of curl and resend.
 */
export function isNoisyHeader(name: string): boolean {
  return (
    name.startsWith('sec-') ||
    [
      'connection',
      'host',
      'content-length',
      'accept-encoding',
      'accept-language',
      'origin',
      'referer',
      'pragma',
      'cache-control',
      'priority',
      'dnt',
    ].includes(name)
  )
}

/** The body as the tester and curl send it: JSON as JSON text, text as it is; null for binary. */
export function bodyText(webhook: RecordedWebhook): string | null {
  if (webhook.body === null || webhook.body === undefined) return ''
  if (webhook.body_encoding === 'base64') return null
  return typeof webhook.body === 'string' ? webhook.body : JSON.stringify(webhook.body, null, 2)
}

const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`

/**
 * The recorded request as a curl command against this server: the token in the header from the
 * variable $TOKEN (records never keep it), the noisy headers left out, a binary body decoded
 * from its base64.
 */
export function curlOf(webhook: RecordedWebhook, origin: string): string {
  const path = webhook.url.replace(/^\/exec\/~/, '/exec')
  const lines = [`curl -sS -X ${webhook.method} ${quote(origin + path)}`, `-H "Authorization: Bearer $TOKEN"`]
  for (const [name, value] of Object.entries(webhook.headers)) {
    if (isNoisyHeader(name) || name === 'authorization' || name === 'user-agent') continue
    lines.push(`-H ${quote(`${name}: ${value}`)}`)
  }
  const body = bodyText(webhook)
  if (body === null) lines.push(`--data-binary @<(echo ${quote(String(webhook.body))} | base64 -d)`)
  else if (body !== '')
    lines.push(`--data-binary ${quote(typeof webhook.body === 'string' ? body : JSON.stringify(webhook.body))}`)
  return lines.join(' \\\n  ')
}
