import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import pg from 'pg'
import { createLogger } from '../src/logger.ts'
import { capabilityRole } from './support/iam.ts'
import { parseMetrics, sample } from './support/metrics.ts'
import { TEST_DATABASE_URL } from './support/postgres.ts'
import { rawRequest } from './support/raw-http.ts'
import { type Backend, CHANNELS, type Client, httpClient, json, startServer } from './support/server.ts'
import { TestSocket } from './support/ws-client.ts'

/** A server logging at info into memory, so a test can read the lines an error left. */
async function loggedServer(t: TestContext, options: { backend?: Backend; databaseUrl?: string } = {}) {
  const lines: Record<string, unknown>[] = []
  const logger = createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line)) })
  const server = await startServer(t, {
    logger,
    ...(options.backend !== undefined && { backend: options.backend }),
    ...(options.databaseUrl !== undefined && { config: { databaseUrl: options.databaseUrl } }),
  })
  return { ...server, lines }
}

async function errorsCounted(url: string, source: string): Promise<number | undefined> {
  const reply = await httpClient(url).get('/metrics')
  assert.equal(reply.status, 200, reply.text)
  return sample(parseMetrics(reply.text), 'switchboard_errors_total', { source })
}

async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const end = performance.now() + 10_000
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

async function channel(root: Client, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const reply = await root.post(CHANNELS, { type: 'public', ...body })
  assert.equal(reply.status, 200, reply.text)
  return json(reply)
}

describe('errors no caller sees are logged and counted (issue 15, item 12)', () => {
  it('counts every source from zero', async (t) => {
    const { url } = await loggedServer(t)
    for (const source of [
      'background',
      'bus_handler',
      'ws_handler',
      'store_pool',
      'script_host',
      'isolate_heap',
      'trace_export',
    ]) {
      assert.equal(await errorsCounted(url, source), 0, source)
    }
  })

  it('logs and counts a websocket handler that fails unexpectedly, and answers it 1500 without the details', async (t) => {
    const { root, url, config, lines } = await loggedServer(t)
    const files = await channel(root, {
      code: 'files',
      opts: { allow_files_api: true, filter_capabilities: ['files'], roles: [await capabilityRole(root, ['files'])] },
    })
    const token = String(files.token_local)
    assert.equal((await rawRequest(url, 'PUT', '/files/report.csv', { authorization: `Bearer ${token}` }, 'a,b\n')).status, 201)
    const socket = new TestSocket(`${url.replace('http', 'ws')}/ws/token/v1/${token}`)
    t.after(() => socket.socket.close())
    await socket.opened()

    // The file breaks on disk (its trailer gone): making a link fails, and it is not the client's fault.
    const [blob, ...others] = (await readdir(join(config.dataDir, 'files'), { recursive: true, withFileTypes: true })).filter(
      (entry) => entry.isFile() && !entry.parentPath.includes('.tmp'),
    )
    assert.ok(blob && others.length === 0)
    await writeFile(join(blob.parentPath, blob.name), 'not a blob')
    socket.send(['file_get_link', { qid: 'q1', path: 'report.csv' }])
    const [, answer] = await socket.answer('file_get_link_result', 'q1')
    assert.deepEqual(answer, { qid: 'q1', result: 'error', error_code: 1500, error_message: 'internal error' })

    const [line] = lines.filter((entry) => entry.msg === 'websocket request failed')
    assert.equal(line?.level, 50, 'logged at error')
    assert.equal(line?.frame, 'file_get_link')
    assert.equal(line?.channel_id, files.id)
    assert.equal(typeof line?.connection_id, 'string')
    assert.equal((line?.err as { message?: string } | undefined)?.message, 'a blob file without its trailer')
    assert.equal(await errorsCounted(url, 'ws_handler'), 1)
  })

  it('logs and counts an idle PostgreSQL connection that fails, and keeps serving', async (t) => {
    // The pool's connections carry a name of this test's own, so only they are cut.
    const name = `switchboard-test-${randomUUID()}`
    const databaseUrl = new URL(TEST_DATABASE_URL)
    databaseUrl.searchParams.set('application_name', name)
    const { root, url, lines } = await loggedServer(t, { backend: 'postgres', databaseUrl: databaseUrl.href })
    await Promise.all([root.get(CHANNELS), root.get(CHANNELS), root.get(CHANNELS)])
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL })
    await admin.connect()
    t.after(() => admin.end())
    const cut = await until('idle pooled connections to cut', async () => {
      const { rowCount } = await admin.query(
        "select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1 and state = 'idle'",
        [name],
      )
      return rowCount !== null && rowCount > 0 ? rowCount : undefined
    })

    const counted = await until('the failures to be counted', async () => {
      const count = (await errorsCounted(url, 'store_pool')) ?? 0
      return count >= cut ? count : undefined
    })
    assert.equal(counted, cut)
    const logged = lines.filter((entry) => entry.msg === 'an idle PostgreSQL connection failed')
    assert.equal(logged.length, cut)
    assert.ok(logged.every((entry) => entry.level === 50))
    assert.equal((await root.get(CHANNELS)).status, 200, 'the pool opens new connections')
  })
})
