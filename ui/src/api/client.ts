/**
 * The console talks to the server only through its public REST API (SPEC §2), with the API key
 * the user signed in with. The key is kept in session storage: it is gone when the tab closes.
 */

const KEY = 'switchboard.key'
const DOMAIN = 'switchboard.domain'

export interface Session {
  readonly key: string
  /** The domain a root key acts in (`Switchboard-Domain`); null = its own. */
  readonly domain: string | null
}

export function currentSession(): Session | null {
  const key = sessionStorage.getItem(KEY)
  return key ? { key, domain: sessionStorage.getItem(DOMAIN) } : null
}

export function saveSession(session: Session): void {
  sessionStorage.setItem(KEY, session.key)
  if (session.domain) sessionStorage.setItem(DOMAIN, session.domain)
  else sessionStorage.removeItem(DOMAIN)
}

export function endSession(): void {
  sessionStorage.removeItem(KEY)
  sessionStorage.removeItem(DOMAIN)
}

export interface FieldProblem {
  readonly field: string
  readonly message: string
}

/** An answer of the API that is not a success, in the one error shape of SPEC §2. */
export class ApiError extends Error {
  override readonly name = 'ApiError'
  readonly status: number
  readonly code: number
  readonly details: readonly FieldProblem[]

  constructor(status: number, code: number, message: string, details: readonly FieldProblem[] = []) {
    super(message)
    this.status = status
    this.code = code
    this.details = details
  }

  /** The problem with one field, if the server named it. */
  about(field: string): string | undefined {
    return this.details.find((detail) => detail.field === field || detail.field.startsWith(`${field}.`))?.message
  }
}

/** What to tell a person about a failure, in plain words. */
export function plainWords(error: unknown): string {
  if (error instanceof ApiError) {
    switch (error.status) {
      case 401:
        return 'The API key was not accepted. Sign in again.'
      case 403:
        return `Not allowed: ${error.message}`
      case 404:
        return `Not found: ${error.message}`
      case 0:
        return error.message
      default:
        return sentence(error.message)
    }
  }
  if (error instanceof TypeError) return 'The server could not be reached. Is it running?'
  return error instanceof Error ? sentence(error.message) : String(error)
}

function sentence(text: string): string {
  return text === '' ? 'Something went wrong.' : text[0]?.toUpperCase() + text.slice(1)
}

export interface Listed<T> {
  readonly items: T[]
  readonly total: number
}

/** Listeners told when a request is refused for a bad key (the app signs out). */
const onUnauthorized: (() => void)[] = []
export function whenUnauthorized(listener: () => void): void {
  onUnauthorized.push(listener)
}

export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  return (await exchange<T>(method, path, body)).data
}

export async function list<T>(path: string, query: Record<string, string | number | undefined> = {}): Promise<Listed<T>> {
  const search = new URLSearchParams()
  for (const [name, value] of Object.entries(query)) if (value !== undefined && value !== '') search.set(name, String(value))
  const text = search.toString()
  const answer = await exchange<T[]>('GET', text ? `${path}?${text}` : path)
  return { items: answer.data, total: Number(answer.headers.get('x-total-count') ?? answer.data.length) }
}

async function exchange<T>(method: string, path: string, body?: unknown): Promise<{ data: T; headers: Headers }> {
  const session = currentSession()
  const headers: Record<string, string> = {}
  if (session) headers.authorization = `Bearer ${session.key}`
  if (session?.domain) headers['switchboard-domain'] = session.domain
  if (body !== undefined) headers['content-type'] = 'application/json'
  const response = await fetch(path, { method, headers, ...(body !== undefined && { body: JSON.stringify(body) }) })
  const data = parsed(await response.text())
  if (!response.ok) {
    if (response.status === 401) for (const listener of onUnauthorized) listener()
    throw apiError(response.status, data)
  }
  return { data: data as T, headers: response.headers }
}

/** A body as JSON when it is JSON, else the text (undefined when empty). */
export function parsed(text: string): unknown {
  try {
    return text === '' ? undefined : JSON.parse(text)
  } catch {
    return text
  }
}

/** The error an answer of `status` with (parsed) body `data` stands for, in the shape of SPEC §2. */
export function apiError(status: number, data: unknown): ApiError {
  const shaped = data as { error_code?: number; error_message?: string; error_details?: FieldProblem[] } | undefined
  return new ApiError(
    status,
    shaped?.error_code ?? 1000 + status,
    shaped?.error_message ?? `the server answered ${status}`,
    shaped?.error_details ?? [],
  )
}

export const PATHS = {
  channels: '/rest/v1/service/integration_points',
  scripts: '/rest/v1/service/svcscripts',
  executions: '/rest/v1/service/executions',
  deliveries: '/rest/v1/service/deliveries',
  license: '/rest/v1/service/license',
  connections: '/rest/v1/service/connections',
  users: '/rest/v1/iam/users',
  apiKeys: '/rest/v1/iam/api_keys',
  roles: '/rest/v1/iam/roles',
  audit: '/rest/v1/service/audit',
  domains: '/rest/v1/master/domains',
} as const
