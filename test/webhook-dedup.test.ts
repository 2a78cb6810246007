import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { createApp } from '../src/app.ts'
import { loadConfig } from '../src/config.ts'
import { parseMetrics, sample } from './support/metrics.ts'
import { dropSchema, newSchemaName, TEST_DATABASE_URL } from './support/postgres.ts'
import { CHANNELS, type Client, httpClient, json, jsonArray, ROOT_KEY, SCRIPTS, startServer } from './support/server.ts'

const EXECUTIONS = '/rest/v1/service/executions'

/** Answers something no second run would repeat, after `delay` ms. */
const script = (delay: number) => `await sleep(${delay})
vars.status = 201
vars.headers = { 'x-run': String(Math.random()) }
return { run: Math.random(), id: request.body?.data?.id ?? null }`

async function dedupChannel(root: Client, code: string, opts: Record<string, unknown>, delay = 0) {
  assert.equal((await root.post(SCRIPTS, { code: `${code}-script`, source: script(delay) })).status, 200)
  const reply = await root.post(CHANNELS, { code, type: 'public', recv_svcscriptcode: `${code}-script`, opts })
  assert.equal(reply.status, 200, reply.text)
  return json(reply) as { id: string; token_local: string }
}

async function post(url: string, token: string, headers: Record<string, string>, body = '{"data":{"id":"evt_1"}}') {
  const response = await fetch(`${url}/exec/${token}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  })
  return { status: response.status, headers: response.headers, text: await response.text() }
}

/** The channel's execution records, once `count` are stored (they are written in batches). */
async function records(root: Client, channelId: string, count: number, check = (_r: Record<string, unknown>[]) => true) {
  const filter = encodeURIComponent(JSON.stringify({ channel_id: channelId }))
  for (let i = 0; ; i++) {
    const all = jsonArray(await root.get(`${EXECUTIONS}?filter=${filter}`))
    if ((all.length >= count && check(all)) || i === 100) return all
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe('opts.dedup: duplicates', () => {
  it('sync: runs the script once per key and answers duplicates with the first reply, Switchboard-Duplicate-Of and a count', async (t) => {
    const { root, url } = await startServer(t)
    const channel = await dedupChannel(root, 'once', { issync: true, dedup: { key: 'header:webhook-id' } })
    const first = await post(url, channel.token_local, { 'webhook-id': 'msg_1' })
    assert.equal(first.status, 201, first.text)
    const firstId = first.headers.get('switchboard-execution-id')
    assert.ok(firstId)
    assert.equal(first.headers.get('switchboard-duplicate-of'), null)
    for (let i = 0; i < 2; i++) {
      const again = await post(url, channel.token_local, { 'webhook-id': 'msg_1' })
      assert.equal(again.status, 201)
      assert.equal(again.text, first.text)
      assert.equal(again.headers.get('x-run'), first.headers.get('x-run'))
      assert.equal(again.headers.get('content-type'), first.headers.get('content-type'))
      assert.equal(again.headers.get('switchboard-duplicate-of'), firstId)
    }
    // Another key, and no key at all, run.
    const other = await post(url, channel.token_local, { 'webhook-id': 'msg_2' })
    const keyless = await post(url, channel.token_local, {})
    assert.notEqual(other.text, first.text)
    assert.notEqual(keyless.text, first.text)
    assert.equal(keyless.headers.get('switchboard-duplicate-of'), null)

    const all = await records(root, channel.id, 3, (found) => found.some((r) => r.duplicates === 2))
    assert.equal(all.length, 3, 'the script ran once per key, and once without')
    assert.equal(all.find((record) => record.id === firstId)?.duplicates, 2)
    assert.equal(all.filter((record) => record.duplicates !== undefined).length, 1)
    const samples = parseMetrics((await httpClient(url).get('/metrics')).text)
    assert.equal(sample(samples, 'switchboard_webhook_duplicates_total', { domain: 'default', channel: 'once' }), 2)
  })

  it('sync: a duplicate that arrives while the first runs waits for it and gets its reply', async (t) => {
    const { root, url } = await startServer(t)
    const channel = await dedupChannel(root, 'slow', { issync: true, dedup: { key: 'body:data.id' } }, 400)
    const answers = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        // Staggered a little, so the first surely claims the key before the others look.
        new Promise((resolve) => setTimeout(resolve, i === 0 ? 0 : 50)).then(() => post(url, channel.token_local, {})),
      ),
    )
    const texts = new Set(answers.map((answer) => answer.text))
    assert.equal(texts.size, 1, `every answer is the first one's: ${[...texts].join(' | ')}`)
    assert.equal(answers.filter((answer) => answer.headers.get('switchboard-duplicate-of') !== null).length, 4)
    const all = await records(root, channel.id, 1, (found) => found[0]?.duplicates === 4)
    assert.equal(all.length, 1)
    assert.equal(all[0]?.duplicates, 4)
    // A body without the field runs normally.
    const unkeyed = await post(url, channel.token_local, {}, '{"data":{}}')
    assert.equal(unkeyed.status, 201)
    assert.equal(unkeyed.headers.get('switchboard-duplicate-of'), null)
  })

  it('async: accepts a key once; a duplicate gets the first execution id; the record counts it', async (t) => {
    const { root, url } = await startServer(t)
    const channel = await dedupChannel(root, 'queued', { issync: false, dedup: { key: 'header:idempotency-key', window_s: 60 } })
    const first = await post(url, channel.token_local, { 'idempotency-key': 'k-1' })
    assert.equal(first.status, 200, first.text)
    const { execution_id: firstId } = JSON.parse(first.text) as { execution_id: string }
    const again = await post(url, channel.token_local, { 'idempotency-key': 'k-1' })
    assert.equal(again.status, 200)
    assert.deepEqual(JSON.parse(again.text), { execution_id: firstId, duplicate: true })
    assert.equal(again.headers.get('switchboard-duplicate-of'), firstId)
    const all = await records(root, channel.id, 1, (found) => found[0]?.status === 'ok' && found[0]?.duplicates === 1)
    assert.equal(all.length, 1, 'the script ran once')
    assert.equal(all[0]?.id, firstId)
    assert.equal(all[0]?.status, 'ok')
    assert.equal(all[0]?.duplicates, 1)
    // Once run and recorded, a later duplicate adds to the record itself.
    await post(url, channel.token_local, { 'idempotency-key': 'k-1' })
    const later = await records(root, channel.id, 1, (found) => found[0]?.duplicates === 2)
    assert.equal(later[0]?.duplicates, 2)
  })

  it('refuses a key that is neither header:<name> nor body:<path>', async (t) => {
    const { root } = await startServer(t)
    for (const key of ['webhook-id', 'header:', 'body:', 'body:a..b', 'header:a b']) {
      const reply = await root.post(CHANNELS, { code: `bad-${key.length}`, type: 'public', opts: { dedup: { key } } })
      assert.equal(reply.status, 400, `${key}: ${reply.text}`)
      assert.equal((reply.body as { error_code: number }).error_code, 1400)
    }
    const zero = await root.post(CHANNELS, { code: 'zero', type: 'public', opts: { dedup: { key: 'header:x', window_s: 0 } } })
    assert.equal(zero.status, 400)
  })

  it('holds across nodes sharing the store: a duplicate sent to another node waits for the first and gets its reply', async (t) => {
    const schema = newSchemaName()
    const dirs: string[] = []
    const node = async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'switchboard-dedup-'))
      dirs.push(dataDir)
      const app = await createApp(
        {
          ...loadConfig({ SWITCHBOARD_LOG_LEVEL: 'silent' }),
          host: '127.0.0.1',
          port: 0,
          dataDir,
          adminKey: ROOT_KEY,
          databaseUrl: TEST_DATABASE_URL,
        },
        { postgresSchema: schema },
      )
      return { app, url: await app.listen() }
    }
    const a = await node()
    t.after(async () => {
      await a.app.close()
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
      await dropSchema(schema)
    })
    const root = httpClient(a.url, ROOT_KEY)
    const channel = await dedupChannel(root, 'shared', { issync: true, dedup: { key: 'header:webhook-id' } }, 500)
    // Started after the channel exists: it reads it from the store.
    const b = await node()
    t.after(() => b.app.close())
    const [first, second] = await Promise.all([
      post(a.url, channel.token_local, { 'webhook-id': 'msg_x' }),
      new Promise((resolve) => setTimeout(resolve, 150)).then(() => post(b.url, channel.token_local, { 'webhook-id': 'msg_x' })),
    ])
    assert.equal(first.status, 201, first.text)
    assert.equal(second.text, first.text)
    assert.equal(second.headers.get('switchboard-duplicate-of'), first.headers.get('switchboard-execution-id'))
    const all = await records(root, channel.id, 1, (found) => found[0]?.duplicates === 1)
    assert.equal(all.length, 1)
    assert.equal(all[0]?.duplicates, 1)
  })
})
