import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { type App, createApp } from '../../src/app.ts'
import { type Config, loadConfig } from '../../src/config.ts'
import type { Logger } from '../../src/logger.ts'
import { dropSchema, newSchemaName, TEST_DATABASE_URL } from './postgres.ts'

export const ROOT_KEY = 'test-root-key-0123456789abcdef'

export type Backend = 'sqlite' | 'postgres'
export const BACKENDS: readonly Backend[] = ['sqlite', 'postgres']

export interface TestServer {
  readonly url: string
  readonly app: App
  readonly config: Config
  /** A client that sends the root key (acting in `default`). */
  readonly root: Client
  client(key?: string, headers?: Record<string, string>): Client
}

export interface Reply {
  readonly status: number
  readonly headers: Headers
  /** The parsed JSON body (undefined when the body is empty). */
  readonly body: unknown
  readonly text: string
}

export interface Client {
  request(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Reply>
  get(path: string): Promise<Reply>
  post(path: string, body?: unknown): Promise<Reply>
  patch(path: string, body?: unknown): Promise<Reply>
  delete(path: string): Promise<Reply>
}

/**
 * Starts a whole server on a loopback port with its own data directory (SQLite) or schema
 * (PostgreSQL), closed after the test.
 */
export async function startServer(
  t: TestContext,
  options: { backend?: Backend; env?: Record<string, string>; config?: Partial<Config>; logger?: Logger } = {},
): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'switchboard-test-'))
  const backend = options.backend ?? 'sqlite'
  const schema = backend === 'postgres' ? newSchemaName() : undefined
  const config: Config = {
    ...loadConfig({ SWITCHBOARD_LOG_LEVEL: 'silent', ...options.env }),
    host: '127.0.0.1',
    port: 0,
    dataDir,
    adminKey: ROOT_KEY,
    ...(backend === 'postgres' && { databaseUrl: TEST_DATABASE_URL }),
    ...options.config,
  }
  const app = await createApp(config, {
    ...(schema !== undefined && { postgresSchema: schema }),
    ...(options.logger !== undefined && { logger: options.logger }),
  })
  t.after(async () => {
    await app.close()
    rmSync(dataDir, { recursive: true, force: true })
    if (schema !== undefined) await dropSchema(schema)
  })
  const url = await app.listen()
  const client = (key?: string, headers: Record<string, string> = {}) => httpClient(url, key, headers)
  return { url, app, config, root: client(ROOT_KEY), client }
}

export function httpClient(base: string, key?: string, defaults: Record<string, string> = {}): Client {
  const request = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> => {
    const all: Record<string, string> = { ...defaults, ...headers }
    if (key !== undefined) all.authorization = `Bearer ${key}`
    let payload: string | undefined
    if (body !== undefined) {
      payload = typeof body === 'string' ? body : JSON.stringify(body)
      all['content-type'] ??= 'application/json'
    }
    const response = await fetch(base + path, { method, headers: all, ...(payload !== undefined && { body: payload }) })
    const text = await response.text()
    let parsed: unknown
    if (text !== '') {
      try {
        parsed = JSON.parse(text)
      } catch {
        parsed = undefined
      }
    }
    return { status: response.status, headers: response.headers, body: parsed, text }
  }
  return {
    request,
    get: (path) => request('GET', path),
    post: (path, body) => request('POST', path, body ?? {}),
    patch: (path, body) => request('PATCH', path, body ?? {}),
    delete: (path) => request('DELETE', path),
  }
}

/** The body as a JSON object (fails the test when it is not one). */
export function json(reply: Reply): Record<string, unknown> {
  if (reply.body === null || typeof reply.body !== 'object' || Array.isArray(reply.body)) {
    throw new Error(`expected a JSON object, got ${reply.status}: ${reply.text.slice(0, 300)}`)
  }
  return reply.body as Record<string, unknown>
}

export function jsonArray(reply: Reply): Record<string, unknown>[] {
  if (!Array.isArray(reply.body)) throw new Error(`expected a JSON array, got ${reply.status}: ${reply.text.slice(0, 300)}`)
  return reply.body as Record<string, unknown>[]
}

export const CHANNELS = '/rest/v1/service/integration_points'
export const SCRIPTS = '/rest/v1/service/svcscripts'
export const USERS = '/rest/v1/iam/users'
export const API_KEYS = '/rest/v1/iam/api_keys'
export const DOMAINS = '/rest/v1/master/domains'
export const CHANNEL_TYPES = '/rest/v1/master/channel_types'
