import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import type { ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import pg from 'pg'
import { createApp } from '../src/app.ts'
import { loadConfig } from '../src/config.ts'
import { openSqliteStore } from '../src/store/sqlite-store.ts'
import { LAUNCHER } from './support/cli.ts'
import { dropSchema, newSchemaName, TEST_DATABASE_URL } from './support/postgres.ts'
import { CHANNELS, type Client, httpClient, json, jsonArray, ROOT_KEY, SCRIPTS, startServer } from './support/server.ts'
import { startStub } from './support/stub-server.ts'

const EXECUTIONS = '/rest/v1/service/executions'

interface Served {
  readonly child: ChildProcess
  readonly url: string
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string }>
}

/** `bin/switchboard serve` as an operator runs it, on `dataDir`. */
async function serve(t: TestContext, dataDir: string, env: Record<string, string>): Promise<Served> {
  const child = spawn(LAUNCHER, ['serve'], {
    env: {
      ...process.env,
      SWITCHBOARD_DATA_DIR: dataDir,
      SWITCHBOARD_ADMIN_KEY: ROOT_KEY,
      SWITCHBOARD_PORT: '0',
      SWITCHBOARD_LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  let stdout = ''
  const url = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      stdout += chunk
      const found = /listening on (http:\/\/\S+)/.exec(stdout)?.[1]
      if (found) resolve(found)
    })
    child.on('exit', () => reject(new Error(`the server exited before it listened: ${stdout}`)))
  })
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, stdout })),
  )
  return { child, url: await url, exit }
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-shutdown-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

async function channel(root: Client, body: Record<string, unknown>): Promise<{ id: string; token_local: string }> {
  const reply = await root.post(CHANNELS, { type: 'public', ...body })
  assert.equal(reply.status, 200, reply.text)
  return json(reply) as { id: string; token_local: string }
}

/** Waits until every execution in `ids` is recorded with a final status; answers them by id. */
async function finished(root: Client, ids: readonly string[]): Promise<Map<string, Record<string, unknown>>> {
  const end = performance.now() + 60_000
  for (;;) {
    const records = new Map<string, Record<string, unknown>>()
    for (let offset = 0; ; offset += 1000) {
      const page = jsonArray(await root.get(`${EXECUTIONS}?limit=1000&offset=${offset}`))
      for (const record of page) records.set(String(record.id), record)
      if (page.length < 1000) break
    }
    const pending = ids.filter((id) => !['ok', 'error', 'timeout'].includes(String(records.get(id)?.status)))
    if (pending.length === 0) return records
    if (performance.now() > end) throw new Error(`${pending.length} executions never finished, e.g. ${pending[0]}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

describe('graceful shutdown (SIGTERM)', () => {
  it('loses no accepted request under load: in-flight requests answered, jobs run or stored, exit 0', async (t) => {
    const dataDir = tempDir(t)
    const server = await serve(t, dataDir, { SWITCHBOARD_SHUTDOWN_TIMEOUT_MS: '10000', SWITCHBOARD_ASYNC_WORKERS: '4' })
    const root = httpClient(server.url, ROOT_KEY)
    assert.equal(
      (await root.post(SCRIPTS, { code: 'slow', source: 'await sleep(100)\nreturn { n: startparam(4).n }' })).status,
      200,
    )
    const sync = await channel(root, { code: 'sync', recv_svcscriptcode: 'slow', opts: { issync: true } })
    const queued = await channel(root, { code: 'queued', recv_svcscriptcode: 'slow', opts: { issync: false } })

    // Sixteen clients send webhooks back to back until the server stops answering.
    let sent = 0
    let signalled = false
    let enough: () => void = () => {}
    const warm = new Promise<void>((resolve) => {
      enough = resolve
    })
    const answered = new Map<string, { status: number; body: unknown }>()
    /** 200s that came after the signal: requests in flight then, finished during the drain. */
    let finishedAfterSignal = 0
    const accepted: string[] = []
    const refusedBeforeSignal: string[] = []
    const client = async (kind: 'sync' | 'async') => {
      const token = kind === 'sync' ? sync.token_local : queued.token_local
      for (;;) {
        const n = sent++
        const id = `load-${kind}-${n}`
        let reply: Response
        try {
          reply = await fetch(`${server.url}/exec/${token}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-request-id': id },
            body: JSON.stringify({ n }),
          })
        } catch (error) {
          // Refused or cut before an answer: accepted only if the server ran it (checked below).
          if (!signalled) refusedBeforeSignal.push(`${id}: ${String((error as { cause?: unknown }).cause ?? error)}`)
          return
        }
        const body = reply.status === 503 ? undefined : await reply.json()
        answered.set(id, { status: reply.status, body })
        if (signalled && reply.status === 200) finishedAfterSignal++
        if (kind === 'async' && reply.status === 200) accepted.push((body as { execution_id: string }).execution_id)
        if (answered.size === 60) enough()
        if (reply.status === 503) return
      }
    }
    const clients = Array.from({ length: 16 }, (_, i) => client(i % 2 === 0 ? 'sync' : 'async'))
    await warm
    const signalledAt = performance.now()
    signalled = true
    server.child.kill('SIGTERM')
    await Promise.all(clients)
    const { code, signal, stdout } = await server.exit
    assert.deepEqual([code, signal], [0, null], stdout)
    assert.ok(performance.now() - signalledAt < 10_000, 'it exits well within its shutdown bound')
    assert.deepEqual(refusedBeforeSignal, [])
    assert.ok(finishedAfterSignal > 0, 'requests in flight at the signal were answered')
    assert.match(stdout, /"signal":"SIGTERM".*"msg":"shutting down"/)
    assert.match(stdout, /"msg":"shut down"/)

    // Every answer is a script's answer or a 503 refusal during the shutdown.
    for (const [id, { status, body }] of answered) {
      const n = Number(id.slice(id.lastIndexOf('-') + 1))
      if (status === 503) continue
      assert.equal(status, 200, `${id}: ${JSON.stringify(body)}`)
      if (id.startsWith('load-sync')) assert.deepEqual(body, { n }, id)
    }

    // The next start runs what was accepted and not yet run; every record was flushed.
    const { root: after } = await startServer(t, { config: { dataDir } })
    const records = await finished(after, accepted)
    for (const id of accepted) assert.equal(records.get(id)?.status, 'ok', `async execution ${id}`)
    const syncRecords = [...records.values()].filter((record) => record.channel_id === sync.id)
    const syncAnswered = [...answered]
      .filter(([id, { status }]) => id.startsWith('load-sync') && status === 200)
      .map(([id]) => id)
    assert.deepEqual(
      syncRecords.map((record) => record.request_id).sort(),
      syncAnswered.sort(),
      'every sync webhook the server ran was answered, and recorded',
    )
    assert.ok(syncAnswered.length >= 8 && accepted.length >= 8, `${syncAnswered.length} sync, ${accepted.length} async`)
  })

  it('hands async jobs still running at the deadline back to the queue; the next start runs them', async (t) => {
    const dataDir = tempDir(t)
    // The jobs' script waits on this stub: it holds the first requests, then answers.
    let holding = true
    const held: ServerResponse[] = []
    let bothHeld: () => void = () => {}
    const twoHeld = new Promise<void>((resolve) => {
      bothHeld = resolve
    })
    const stub = await startStub(t, (_request, response) => {
      if (!holding) return void response.end('done')
      held.push(response)
      if (held.length === 2) bothHeld()
    })
    const server = await serve(t, dataDir, { SWITCHBOARD_SHUTDOWN_TIMEOUT_MS: '300', SWITCHBOARD_EGRESS_ALLOW: '127.0.0.0/8' })
    const root = httpClient(server.url, ROOT_KEY)
    const source = `const answer = await http.request({ url: '${stub.url}/work', timeout: 30000 })\nreturn { answer: answer.body }`
    assert.equal((await root.post(SCRIPTS, { code: 'waits', source })).status, 200)
    const queued = await channel(root, { code: 'queued', recv_svcscriptcode: 'waits', opts: { issync: false, recv_timeout: 60 } })
    const ids: string[] = []
    for (let n = 0; n < 2; n++)
      ids.push(json(await httpClient(server.url).post(`/exec/${queued.token_local}`, { n })).execution_id as string)
    await twoHeld

    const signalledAt = performance.now()
    server.child.kill('SIGTERM')
    const { code, stdout } = await server.exit
    assert.equal(code, 0, stdout)
    // Held, the jobs would keep it 30 s (their http.request timeout); cut at the bound, it leaves long before.
    assert.ok(performance.now() - signalledAt < 15_000, 'the jobs did not hold the shutdown past its bound')
    for (const response of held) response.destroy()

    // Stored as accepted, the records queued again: not a failed attempt.
    const store = openSqliteStore(join(dataDir, 'switchboard.db'))
    try {
      const jobs = await store.table('jobs').scan()
      assert.deepEqual(jobs.map(({ doc }) => [doc.id, doc.attempt]).sort(), ids.map((id) => [id, 1]).sort())
      const records = await store.table('executions').scan()
      assert.deepEqual(
        records.filter(({ doc }) => ids.includes(doc.id)).map(({ doc }) => doc.status),
        ['queued', 'queued'],
      )
    } finally {
      await store.close()
    }

    holding = false
    const { root: after } = await startServer(t, { config: { dataDir, egressAllow: ['127.0.0.0/8'] } })
    const records = await finished(after, ids)
    for (const id of ids) {
      const record = records.get(id) as Record<string, unknown>
      assert.equal(record.status, 'ok')
      assert.deepEqual((record.output as { result?: unknown }).result, { answer: 'done' })
      assert.equal((record.attempts as unknown[]).length, 1, 'the run the shutdown stopped is not an attempt')
    }
  })
})

describe('a start that fails (issue 15, item 13)', () => {
  it('answers its own error and closes what it had opened', async (t) => {
    // The store opens (PostgreSQL, its connections named for this test), then the bus cannot connect.
    const name = `switchboard-test-${randomUUID()}`
    const databaseUrl = new URL(TEST_DATABASE_URL)
    databaseUrl.searchParams.set('application_name', name)
    const schema = newSchemaName()
    t.after(() => dropSchema(schema))
    const dataDir = mkdtempSync(join(tmpdir(), 'switchboard-test-'))
    t.after(() => rmSync(dataDir, { recursive: true, force: true }))
    const config = {
      ...loadConfig({ SWITCHBOARD_LOG_LEVEL: 'silent' }),
      dataDir,
      databaseUrl: databaseUrl.href,
      // Nothing listens on port 1: the connection is refused at once.
      natsUrl: 'nats://127.0.0.1:1',
    }
    await assert.rejects(createApp(config, { postgresSchema: schema }), { message: 'connection refused' })
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL })
    await admin.connect()
    t.after(() => admin.end())
    const { rows } = await admin.query('select count(*)::int as open from pg_stat_activity where application_name = $1', [name])
    assert.deepEqual(rows, [{ open: 0 }], 'the store it opened is closed')
  })
})
