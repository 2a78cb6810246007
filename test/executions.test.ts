import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { assertError } from './support/assertions.ts'
import { ROLES, userWith } from './support/iam.ts'
import { BACKENDS, CHANNELS, type Client, json, jsonArray, SCRIPTS, startServer } from './support/server.ts'

const EXECUTIONS = '/rest/v1/service/executions'

async function channel(root: Client, code: string, source: string, issync = true): Promise<string> {
  assert.equal((await root.post(SCRIPTS, { code: `${code}-in`, source })).status, 200)
  const created = await root.post(CHANNELS, { code, type: 'public', recv_svcscriptcode: `${code}-in`, opts: { issync } })
  assert.equal(created.status, 200, created.text)
  return json(created).token_local as string
}

async function send(url: string, token: string, body: string, contentType: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${url}/exec/${token}/orders?source=shop`, {
    method: 'POST',
    headers: { 'content-type': contentType, ...headers },
    body,
  })
  await response.arrayBuffer()
  return response.headers.get('switchboard-execution-id') ?? ''
}

/** The executions a list query answers, by id, once `count` of them are recorded. */
async function listed(root: Client, query: string, count?: number): Promise<string[]> {
  for (let i = 0; ; i++) {
    const reply = await root.get(`${EXECUTIONS}?${query}`)
    const ids = jsonArray(reply).map((execution) => String(execution.id))
    if (count === undefined || ids.length >= count || i > 100) return ids
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

for (const backend of BACKENDS) {
  describe(`executions as a user debugging an integration reads them (${backend})`, () => {
    it('keeps the body readable, finds executions by text in body and headers, within a time range', async (t) => {
      const { root, url, client } = await startServer(t, { backend })
      const token = await channel(root, 'shop', 'return {seen: true}')
      const json7 = await send(url, token, JSON.stringify({ order: 7, email: 'ada@example.com' }), 'application/json')
      const text8 = await send(url, token, 'order 8 shipped', 'text/plain', { 'x-shop-region': 'Berlin' })
      const binary = await send(url, token, '\u0000\u0001order', 'application/octet-stream')
      await listed(root, 'limit=10', 3)

      const record = json(await root.get(`${EXECUTIONS}/${json7}`))
      const webhook = (record.input as { webhook: Record<string, unknown> }).webhook
      assert.deepEqual(webhook.body, { order: 7, email: 'ada@example.com' }, 'JSON as JSON')
      assert.deepEqual(webhook.query, { source: 'shop' })
      assert.equal((webhook.headers as Record<string, string>)['content-type'], 'application/json')
      const text = (json(await root.get(`${EXECUTIONS}/${text8}`)).input as { webhook: Record<string, unknown> }).webhook
      assert.equal(text.body, 'order 8 shipped', 'text as text')
      assert.equal(text.body_encoding, undefined)
      const bytes = (json(await root.get(`${EXECUTIONS}/${binary}`)).input as { webhook: Record<string, unknown> }).webhook
      assert.equal(bytes.body_encoding, 'base64', 'binary as base64')
      assert.equal(Buffer.from(String(bytes.body), 'base64').toString('latin1'), '\u0000\u0001order')

      const q = (text: string) => `q=${encodeURIComponent(text)}`
      assert.deepEqual(await listed(root, q('order 7')), [json7], 'every word')
      assert.deepEqual((await listed(root, q('ORDER'))).sort(), [json7, text8].sort(), 'case-insensitive, JSON and text')
      assert.deepEqual(await listed(root, q('exam')), [json7], 'words by their start')
      assert.deepEqual(await listed(root, q('berlin')), [text8], 'headers too')
      assert.deepEqual(
        await listed(root, `${q('order')}&filter=${encodeURIComponent('{"status":"ok"}')}&limit=1`).then((ids) => ids.length),
        1,
      )
      const counted = await root.get(`${EXECUTIONS}?${q('order')}&limit=1`)
      assert.equal(counted.headers.get('x-total-count'), '2', 'the total counts the search')

      // A custom time range bounds started_at: since is inclusive, until exclusive.
      const started = String(record.started_at)
      assert.deepEqual(await listed(root, `${q('order')}&since=${started}&until=${started}`), [])
      const after = new Date(Date.parse(started) + 1).toISOString()
      assert.ok(!(await listed(root, `since=${after}`)).includes(json7))
      assert.ok((await listed(root, `until=${after}&since=${started}`)).includes(json7))

      assertError(await root.get(`${EXECUTIONS}?${q('"@"')}`), 400, /letter or a digit/, 'q')
      assertError(await root.get(`${EXECUTIONS}?${q('x'.repeat(201))}`), 400, /q/)
      assertError(await root.get(`${EXECUTIONS}?${q(Array.from({ length: 17 }, (_, i) => `w${i}`).join(' '))}`), 400, /16 words/)
      assertError(await root.get(`${EXECUTIONS}?since=yesterday`), 400, /since/)
      assertError(await client().get(`${EXECUTIONS}?${q('order')}`), 401)
      assertError(await client('not-a-key').get(`${EXECUTIONS}?${q('order')}`), 401)
    })

    it('replays every execution a filter matches, and refuses a malformed or unauthorised bulk replay', async (t) => {
      const { root, url, client } = await startServer(t, { backend, config: { asyncAttempts: 1 } })
      // Fails until the script is fixed; the fixed one answers the order back.
      const token = await channel(root, 'orders', 'throw new Error("broken")', false)
      for (const order of [1, 2, 3]) await send(url, token, JSON.stringify({ order }), 'application/json')
      const okToken = await channel(root, 'other', 'return 1', true)
      await send(url, okToken, '{"order":1}', 'application/json')
      const failedFilter = encodeURIComponent(JSON.stringify({ status: 'error' }))
      const failed = await listed(root, `filter=${failedFilter}`, 3)
      assert.equal(failed.length, 3)

      const scripts = jsonArray(await root.get(`${SCRIPTS}?filter=${encodeURIComponent('{"code":"orders-in"}')}`))
      const fixed = await root.patch(`${SCRIPTS}/${String(scripts[0]?.id)}`, { source: 'return {order: startparam(4).order}' })
      assert.equal(fixed.status, 200, fixed.text)

      const reply = await root.post(`${EXECUTIONS}/replay`, { filter: { status: 'error' } })
      assert.equal(reply.status, 200, reply.text)
      const answer = json(reply) as { replayed: number; execution_ids: string[]; skipped: unknown[] }
      assert.equal(answer.replayed, 3)
      assert.deepEqual(answer.skipped, [])
      const replays = await Promise.all(answer.execution_ids.map(async (id) => json(await root.get(`${EXECUTIONS}/${id}`))))
      assert.deepEqual(
        replays.map((replay) => [replay.trigger, replay.status, (replay.output as { result: { order: number } }).result.order]),
        [
          ['replay', 'ok', 1],
          ['replay', 'ok', 2],
          ['replay', 'ok', 3],
        ],
        'oldest first, through the fixed script',
      )
      assert.deepEqual(replays.map((replay) => replay.replay_of).sort(), [...failed].sort())

      // Nothing matches: nothing runs.
      const none = json(await root.post(`${EXECUTIONS}/replay`, { filter: { status: 'timeout' } }))
      assert.deepEqual(none, { replayed: 0, execution_ids: [], skipped: [] })
      assertError(await root.post(`${EXECUTIONS}/replay`, {}), 400, /filter/)
      assertError(await root.post(`${EXECUTIONS}/replay`, { filter: { nosuchfield: 1 } }), 400, /nosuchfield/, 'filter')
      assertError(await root.post(`${EXECUTIONS}/replay`, { filter: {}, q: '""' }), 400, /letter or a digit/)
      assertError(await root.request('POST', `${EXECUTIONS}/replay`, '{"filter":', { 'content-type': 'application/json' }), 400)
      assertError(await client().post(`${EXECUTIONS}/replay`, { filter: {} }), 401)
    })

    it('counts every execution of the window per channel and per minute, with errors and the p95, in its domain only', async (t) => {
      const { root, url, client } = await startServer(t, { backend, config: { asyncAttempts: 1 } })
      const busy = await channel(root, 'busy', 'return 1')
      const failing = await channel(root, 'failing', 'if (startparam(4).fail) throw new Error("no")\nreturn 2')
      const since = new Date(Date.now() - 1000).toISOString()
      for (let i = 0; i < 30; i++) await send(url, busy, '{}', 'application/json')
      for (const fail of [true, false, true]) await send(url, failing, JSON.stringify({ fail }), 'application/json')
      await listed(root, 'limit=100', 33)
      // Runs started by hand belong to no channel.
      const scripts = jsonArray(await root.get(`${SCRIPTS}?filter=${encodeURIComponent('{"code":"busy-in"}')}`))
      assert.equal((await root.post(`${SCRIPTS}/${String(scripts[0]?.id)}/run`, {})).status, 200)
      // Another domain's channel of the same code: not counted here.
      assert.equal((await root.post('/rest/v1/master/domains', { name: 'other' })).status, 200)

      const channels = jsonArray(await root.get(`${CHANNELS}?mask=id,code`))
      const idOf = (code: string) => String(channels.find((one) => one.code === code)?.id)
      const reply = await root.get(`${EXECUTIONS}/traffic?since=${encodeURIComponent(since)}`)
      assert.equal(reply.status, 200, reply.text)
      const traffic = json(reply) as {
        since: string
        until: string
        channels: {
          channel_id: string
          requests: number
          errors: number
          p95_ms: number | null
          minutes: { minute: string; requests: number; errors: number }[]
        }[]
      }
      assert.equal(traffic.since, since)
      assert.deepEqual(
        traffic.channels.map((one) => [one.channel_id, one.requests, one.errors]),
        [
          [idOf('busy'), 30, 0],
          [idOf('failing'), 3, 2],
        ],
        'the busiest first; the run by hand is in no channel',
      )
      for (const one of traffic.channels) {
        assert.equal(
          one.minutes.reduce((sum, minute) => sum + minute.requests, 0),
          one.requests,
        )
        assert.equal(
          one.minutes.reduce((sum, minute) => sum + minute.errors, 0),
          one.errors,
        )
        for (const minute of one.minutes) assert.match(minute.minute, /^\d{4}-\d\d-\d\dT\d\d:\d\dZ$/)
        assert.ok(typeof one.p95_ms === 'number' && one.p95_ms >= 0)
      }
      // The p95 is the nearest rank of the recorded durations.
      const durations = jsonArray(
        await root.get(
          `${EXECUTIONS}?filter=${encodeURIComponent(JSON.stringify({ channel_id: idOf('busy') }))}&mask=duration_ms&limit=100`,
        ),
      )
        .map((execution) => Number(execution.duration_ms))
        .sort((a, b) => a - b)
      assert.equal(traffic.channels[0]?.p95_ms, durations[Math.ceil(durations.length * 0.95) - 1])

      // One channel; a window before the runs is empty.
      const one = json(await root.get(`${EXECUTIONS}/traffic?since=${encodeURIComponent(since)}&channel_id=${idOf('failing')}`))
      assert.deepEqual(
        (one.channels as { requests: number }[]).map((c) => c.requests),
        [3],
      )
      const before = new Date(Date.parse(since) - 3_600_000).toISOString()
      assert.deepEqual(
        json(await root.get(`${EXECUTIONS}/traffic?since=${encodeURIComponent(before)}&until=${encodeURIComponent(since)}`))
          .channels,
        [],
      )
      // The default window is the last hour.
      const lastHour = json(await root.get(`${EXECUTIONS}/traffic`))
      assert.ok(Math.abs(Date.parse(String(lastHour.until)) - Date.parse(String(lastHour.since)) - 3_600_000) < 1)
      assert.equal((lastHour.channels as unknown[]).length, 2)
      // Another domain sees its own channels only.
      const inOther = json(await root.request('GET', `${EXECUTIONS}/traffic`, undefined, { 'switchboard-domain': 'other' }))
      assert.deepEqual(inOther.channels, [])

      assertError(await root.get(`${EXECUTIONS}/traffic?since=yesterday`), 400, /since/)
      assertError(
        await root.get(`${EXECUTIONS}/traffic?since=${encodeURIComponent(since)}&until=${encodeURIComponent(before)}`),
        400,
        /before until/,
      )
      assertError(await root.get(`${EXECUTIONS}/traffic?since=2026-01-01T00:00:00Z&until=2026-02-01T00:00:00Z`), 400, /7 days/)
      assertError(await root.get(`${EXECUTIONS}/traffic?channel_id=not-a-uuid`), 400, /channel_id/)
      assertError(await root.get(`${EXECUTIONS}/traffic?nosuch=1`), 400)
      assertError(await client().get(`${EXECUTIONS}/traffic`), 401)
      const { key } = await userWith(root, 'reader', [await role(root, 'channels-only', '/rest/v1/service/integration_points/*')])
      assertError(await client(key).get(`${EXECUTIONS}/traffic`), 403)
      const { key: readerKey } = await userWith(root, 'exec-reader', [
        await role(root, 'executions', '/rest/v1/service/executions/*'),
      ])
      assert.equal((await client(readerKey).get(`${EXECUTIONS}/traffic`)).status, 200)
    })
  })
}

/** A role that may GET `route`. */
async function role(admin: Client, code: string, route: string): Promise<string> {
  const reply = await admin.post(ROLES, { code, permissions: [{ route, methods: ['GET'] }] })
  assert.equal(reply.status, 200, reply.text)
  return code
}
