import type { ClientConfig } from '../config.ts'

/** A command that failed; `exitCode` 1 for failures, 2 for usage mistakes. */
export class CliError extends Error {
  override readonly name = 'CliError'
  readonly exitCode: number

  constructor(message: string, exitCode = 1) {
    super(message)
    this.exitCode = exitCode
  }
}

export interface ApiReply {
  readonly status: number
  readonly headers: Headers
  /** The parsed JSON body, or undefined when the body is not JSON. */
  readonly body: unknown
  readonly text: string
}

/** Largest page the REST API gives (SPEC §2). */
const PAGE = 1000

/**
 * The public REST API of a running server, as the command line uses it: the key goes in
 * `Authorization`, the domain (root key) in `Switchboard-Domain`. Answers outside 2xx become
 * `CliError`s with the server's own message.
 */
export class ApiClient {
  readonly url: string
  readonly #headers: Record<string, string>

  constructor(config: ClientConfig) {
    if (config.key === undefined) {
      throw new CliError('no API key: set SWITCHBOARD_KEY (or pass --key); the root key works, as does any API key', 2)
    }
    this.url = config.url
    this.#headers = {
      authorization: `Bearer ${config.key}`,
      ...(config.domain !== undefined && { 'switchboard-domain': config.domain }),
    }
  }

  /** Any request; never throws for an HTTP status, only when the server cannot be reached. */
  async send(method: string, path: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<ApiReply> {
    const headers: Record<string, string> = { ...this.#headers, ...extraHeaders }
    let payload: string | undefined
    if (body !== undefined) {
      payload = JSON.stringify(body)
      headers['content-type'] = 'application/json'
    }
    return exchange(`${this.url}${path}`, { method, headers, ...(payload !== undefined && { body: payload }) })
  }

  /** A request whose answer must be 2xx; answers the parsed body. */
  async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const reply = await this.send(method, path, body)
    if (reply.status >= 200 && reply.status < 300) return reply.body
    throw new CliError(`${method} ${path}: ${describeError(reply)}`)
  }

  /** Every entity of a collection (all pages), with `query` (filter, mask, order) added. */
  async list(path: string, query: Record<string, string> = {}): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = []
    for (let offset = 0; ; offset += PAGE) {
      const search = new URLSearchParams({ ...query, limit: String(PAGE), offset: String(offset) })
      const page = (await this.call('GET', `${path}?${search}`)) as Record<string, unknown>[]
      items.push(...page)
      if (page.length < PAGE) return items
    }
  }

  /** The entity of a collection whose `field` (a unique key: code, login) is `value`, or a CliError naming what is missing. */
  async byKey(path: string, noun: string, field: string, value: string): Promise<Record<string, unknown>> {
    const search = new URLSearchParams({ filter: JSON.stringify({ [field]: value }), limit: '1' })
    const [found] = (await this.call('GET', `${path}?${search}`)) as Record<string, unknown>[]
    if (!found) throw new CliError(`no ${noun} '${value}' in this domain`)
    return found
  }
}

/** fetch, with a failure to connect told in words. */
export async function exchange(url: string, init: RequestInit): Promise<ApiReply> {
  let response: Response
  try {
    response = await fetch(url, init)
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause
    throw new CliError(`cannot reach ${new URL(url).origin}: ${cause?.code ?? cause?.message ?? String(error)}`)
  }
  const text = await response.text()
  let body: unknown
  try {
    body = text === '' ? undefined : JSON.parse(text)
  } catch {
    body = undefined
  }
  return { status: response.status, headers: response.headers, body, text }
}

/** The server's error in one line: `1404 channel 'x' does not exist`, with field details. */
export function describeError(reply: ApiReply): string {
  const body = reply.body as { error_code?: unknown; error_message?: unknown; error_details?: unknown } | undefined
  if (typeof body?.error_message !== 'string') return `HTTP ${reply.status} ${reply.text.slice(0, 200)}`.trim()
  const message = body.error_message
  // Field details the message does not already say.
  const details = (Array.isArray(body.error_details) ? (body.error_details as { field?: unknown; message?: unknown }[]) : [])
    .filter((detail) => !message.includes(String(detail.message)))
    .map((detail) => `${String(detail.field)} ${String(detail.message)}`)
  return `${String(body.error_code ?? reply.status)} ${message}${details.length > 0 ? ` (${details.join('; ')})` : ''}`
}
