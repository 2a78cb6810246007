import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import WebSocket from 'ws'
import { assertError } from './support/assertions.ts'
import { parseMetrics, type Sample, sample } from './support/metrics.ts'
import { saveScript } from './support/scripts.ts'
import { CHANNELS, type Client, httpClient, json, jsonArray, ROOT_KEY, startServer } from './support/server.ts'

const EXECUTIONS = '/rest/v1/service/executions'

async function scrape(client: Client): Promise<Sample[]> {
  const reply = await client.get('/metrics')
  assert.equal(reply.status, 200, reply.text)
  assert.equal(reply.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8')
  return parseMetrics(reply.text)
}

/** Scrapes until `check` holds (metrics that follow an asynchronous event, such as a close). */
async function scrapeUntil(client: Client, check: (samples: Sample[]) => boolean): Promise<Sample[]> {
  const end = performance.now() + 5000
  for (;;) {
    const samples = await scrape(client)
    if (check(samples)) return samples
    if (performance.now() > end) throw new Error('the metrics did not get there in 5 s')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

async function channel(root: Client, body: Record<string, unknown>): Promise<{ id: string; token_local: string }> {
  const reply = await root.post(CHANNELS, { type: 'public', ...body })
  assert.equal(reply.status, 200, reply.text)
  return json(reply) as { id: string; token_local: string }
}

describe('metrics (SPEC §11)', () => {
  it('count requests, executions, queue jobs, websocket traffic, isolates, store and bus as traffic flows', async (t) => {
    // Room for two isolates: the third script run evicts one.
    const { url, root } = await startServer(t, { config: { scriptMaxIsolates: 2 } })
    const open = httpClient(url)
    const before = await scrape(open)
    assert.equal(
      sample(before, 'switchboard_http_requests_total', { method: 'POST', route: '/exec/*', status: '200' }),
      undefined,
    )
    assert.equal(sample(before, 'switchboard_ws_connections'), 0)
    assert.equal(sample(before, 'switchboard_executions_in_flight'), 0)
    for (const state of ['ready', 'running', 'retrying']) assert.equal(sample(before, 'switchboard_queue_depth', { state }), 0)
    // The first start created the two built-in domains: two model events, heard by nobody.
    assert.equal(sample(before, 'switchboard_events_emitted_total', { class: 'modelevents' }), 2)
    for (const eventClass of ['projectevents', 'channelevents']) {
      assert.equal(sample(before, 'switchboard_events_emitted_total', { class: eventClass }), 0)
    }
    for (const eventClass of ['modelevents', 'projectevents', 'channelevents']) {
      assert.equal(sample(before, 'switchboard_events_delivered_total', { class: eventClass }), 0)
      assert.equal(sample(before, 'switchboard_events_dropped_total', { class: eventClass, reason: 'slow_client' }), 0)
    }
    assert.equal(sample(before, 'switchboard_info', { version: '0.1.0' }), 1)

    await saveScript(root, 'answer', 'return { n: startparam(4).n }')
    await saveScript(root, 'fail', "throw new Error('no')")
    await saveScript(root, 'echo', 'return startparam(2)')
    const good = await channel(root, { code: 'good', recv_svcscriptcode: 'answer', opts: { issync: true } })
    const bad = await channel(root, { code: 'bad', recv_svcscriptcode: 'fail', opts: { issync: true } })
    const later = await channel(root, { code: 'later', recv_svcscriptcode: 'answer', opts: { issync: false } })
    const ws = await channel(root, { code: 'ws', recv_svcscriptcode_ws: 'echo' })

    for (let n = 1; n <= 3; n++) {
      const reply = await open.post(`/exec/${good.token_local}/orders`, { n })
      assert.deepEqual(json(reply), { n })
    }
    assert.equal((await open.post(`/exec/${bad.token_local}`, { n: 0 })).status, 500)
    const queued = [] as string[]
    for (let n = 1; n <= 2; n++) queued.push(json(await open.post(`/exec/${later.token_local}`, { n })).execution_id as string)
    for (const id of queued) {
      for (;;) {
        // The record is written in a batch, shortly after the accept.
        const record = await root.get(`${EXECUTIONS}/${id}`)
        const status = record.status === 404 ? 'not recorded yet' : json(record).status
        if (status === 'ok') break
        assert.ok(status === 'not recorded yet' || status === 'queued', `execution ${id} is ${status}`)
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    }
    assert.equal((await open.get('/nowhere')).status, 404)

    const socket = new WebSocket(`${url.replace('http', 'ws')}/ws/token/v1/${ws.token_local}`)
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject))
    const answers: unknown[] = []
    const both = new Promise<void>((resolve) =>
      socket.on('message', (data) => {
        answers.push(JSON.parse(String(data)))
        if (answers.length === 2) resolve()
      }),
    )
    socket.send(JSON.stringify(['connection_info', { qid: 1 }]))
    socket.send(JSON.stringify(['message', { qid: 2, data: 'hi' }]))
    await both
    const during = await scrape(open)
    assert.equal(sample(during, 'switchboard_ws_connections'), 1)
    socket.close(1000)
    const after = await scrapeUntil(open, (samples) => sample(samples, 'switchboard_ws_connections') === 0)

    const exec = { method: 'POST', route: '/exec/*' }
    assert.equal(sample(after, 'switchboard_http_requests_total', { ...exec, status: '200' }), 5)
    assert.equal(sample(after, 'switchboard_http_requests_total', { ...exec, status: '500' }), 1)
    assert.equal(sample(after, 'switchboard_http_request_duration_seconds_count', exec), 6)
    assert.equal(sample(after, 'switchboard_http_request_duration_seconds_bucket', { ...exec, le: '+Inf' }), 6)
    assert.equal(sample(after, 'switchboard_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' }), 1)
    assert.equal(
      sample(after, 'switchboard_http_requests_total', { method: 'POST', route: CHANNELS, status: '200' }),
      4,
      'the admin API is counted by its route',
    )

    // By channel: which integration fails shows in the metrics.
    const http = { domain: 'default', trigger: 'http' }
    assert.equal(sample(after, 'switchboard_executions_total', { ...http, channel: 'good', status: 'ok' }), 3)
    assert.equal(sample(after, 'switchboard_executions_total', { ...http, channel: 'later', status: 'ok' }), 2)
    assert.equal(sample(after, 'switchboard_executions_total', { ...http, channel: 'bad', status: 'error' }), 1)
    assert.equal(sample(after, 'switchboard_executions_total', { ...http, channel: 'bad', status: 'ok' }), undefined)
    assert.equal(sample(after, 'switchboard_execution_duration_seconds_count', { ...http, channel: 'good' }), 3)
    assert.equal(sample(after, 'switchboard_execution_duration_seconds_count', { ...http, channel: 'bad' }), 1)
    assert.equal(
      sample(after, 'switchboard_executions_total', { domain: 'default', channel: 'ws', trigger: 'ws', status: 'ok' }),
      1,
    )
    assert.equal(sample(after, 'switchboard_executions_in_flight'), 0)

    // The websocket's opening and closing, and every create since the start, were events.
    assert.equal(sample(after, 'switchboard_events_emitted_total', { class: 'channelevents' }), 2)
    assert.ok((sample(after, 'switchboard_events_emitted_total', { class: 'modelevents' }) ?? 0) > 2)
    assert.equal(sample(after, 'switchboard_queue_accepted_total'), 2)
    assert.equal(sample(after, 'switchboard_queue_completed_total'), 2)
    assert.equal(sample(after, 'switchboard_queue_retries_total'), 0)
    assert.equal(sample(after, 'switchboard_queue_depth', { state: 'ready' }), 0)

    assert.equal(sample(after, 'switchboard_ws_connections_opened_total'), 1)
    assert.equal(sample(after, 'switchboard_ws_connections_closed_total', { code: '1000' }), 1)
    assert.equal(sample(after, 'switchboard_ws_frames_total', { direction: 'in' }), 2)
    assert.equal(sample(after, 'switchboard_ws_frames_total', { direction: 'out' }), 2)

    // answer, fail and echo ran, in that order, with room for two isolates: fail's was evicted.
    // Scripts run in the worker's own isolates (SPEC §13): no script host process is needed.
    assert.equal(sample(after, 'switchboard_script_hosts'), 0)
    assert.equal(sample(after, 'switchboard_isolates', { host: 'worker' }), 2)
    assert.equal(sample(after, 'switchboard_isolate_disposals_total', { reason: 'evicted' }), 1)
    // The spare made at start, then one more each time a script took the spare.
    assert.equal(sample(after, 'switchboard_isolates_created_total'), 4)
    assert.ok((sample(after, 'switchboard_isolate_heap_bytes', { host: 'worker' }) ?? 0) > 0)

    assert.ok((sample(after, 'switchboard_store_query_duration_seconds_count', { operation: 'select' }) ?? 0) > 0)
    assert.ok((sample(after, 'switchboard_store_query_duration_seconds_count', { operation: 'insert' }) ?? 0) > 0)
    assert.ok((sample(after, 'switchboard_bus_delivery_seconds_count', { subject: 'changes' }) ?? 0) >= 7)
    assert.ok((sample(after, 'process_cpu_seconds_total') ?? 0) > 0)
    assert.ok((sample(after, 'process_resident_memory_bytes') ?? 0) > 10 << 20)

    // Labels are bounded: no token, key, id or path of the traffic above appears in any of them.
    const text = (await open.get('/metrics')).text
    const domainId = jsonArray(await root.get('/rest/v1/master/domains?filter=%7B%22name%22%3A%22default%22%7D'))[0]?.id
    for (const secret of [
      ROOT_KEY,
      good.token_local,
      later.token_local,
      ws.token_local,
      good.id,
      domainId,
      ...queued,
      '/orders',
    ]) {
      assert.equal(text.includes(String(secret)), false, `the metrics mention ${secret}`)
    }
  })

  it('need the metrics token when one is configured, compared as a secret', async (t) => {
    const token = 'scrape-token-0123456789abcdef'
    const { url } = await startServer(t, { config: { metricsToken: token } })
    assertError(await httpClient(url).get('/metrics'), 401, /metrics token/)
    const wrong = await httpClient(url, `${token}x`).get('/metrics')
    assertError(wrong, 401, /metrics token/)
    assert.equal(wrong.headers.get('www-authenticate'), 'Bearer')
    assertError(await httpClient(url, ROOT_KEY).get('/metrics'), 401, /metrics token/)
    const right = await httpClient(url, token).get('/metrics')
    assert.equal(right.status, 200)
    assert.equal(sample(parseMetrics(right.text), 'switchboard_info', { version: '0.1.0' }), 1)
  })
})
