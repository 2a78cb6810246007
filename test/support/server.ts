import { mkdtempSync, rmSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
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
  return clientOver(base, key, defaults, async (method, url, headers, payload) => {
    // fetch's own error says only "fetch failed": the request it was is what a failing test needs.
    const response = await fetch(url, { method, headers, ...(payload !== undefined && { body: payload }) }).catch(
      (error: Error) => {
        throw new Error(`${method} ${url}: ${error.message} (${String(error.cause)})`, { cause: error })
      },
    )
    return { status: response.status, headers: response.headers, text: await response.text() }
  })
}

/**
 * A client whose every request opens a connection of its own, closed after the answer. fetch
 * sends even a `Connection: close` request on a keep-alive connection of its pool if one is idle,
 * and a worker being replaced closes those a second after it starts draining: a request sent on
 * one in that instant gets no answer, as at any server's keep-alive timeout (docs/operations.md).
 */
export function oneShotClient(base: string, key?: string): Client {
  return clientOver(base, key, {}, (method, url, headers, payload) => {
    return new Promise((resolve, reject) => {
      const outgoing = httpRequest(url, { method, headers, agent: false }, (response) => {
        let text = ''
        response.setEncoding('utf8')
        response.on('data', (chunk: string) => {
          text += chunk
        })
        response.on('end', () => {
          const answered = new Headers()
          for (const [name, value] of Object.entries(response.headers)) {
            for (const one of [value ?? []].flat()) answered.append(name, one)
          }
          resolve({ status: response.statusCode ?? 0, headers: answered, text })
        })
        response.on('error', reject)
      })
      outgoing.on('error', (error) => reject(new Error(`${method} ${url}: ${error.message}`, { cause: error })))
      outgoing.end(payload)
    })
  })
}

type Transport = (
  method: string,
  url: string,
  headers: Record<string, string>,
  payload: string | undefined,
) => Promise<{ status: number; headers: Headers; text: string }>

function clientOver(base: string, key: string | undefined, defaults: Record<string, string>, send: Transport): Client {
  const request = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> => {
    const all: Record<string, string> = { ...defaults, ...headers }
    if (key !== undefined) all.authorization = `Bearer ${key}`
    let payload: string | undefined
    if (body !== undefined) {
      payload = typeof body === 'string' ? body : JSON.stringify(body)
      all['content-type'] ??= 'application/json'
    }
    const { status, headers: answered, text } = await send(method, base + path, all, payload)
    let parsed: unknown
    if (text !== '') {
      try {
        parsed = JSON.parse(text)
      } catch {
        parsed = undefined
      }
    }
    return { status, headers: answered, body: parsed, text }
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
