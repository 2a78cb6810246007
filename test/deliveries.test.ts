import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, it, type TestContext } from 'node:test'
import { Webhook } from 'standardwebhooks'
import { assertError } from './support/assertions.ts'
import { parseMetrics, sample } from './support/metrics.ts'
import { deleteStreamsOf, newNatsPrefix, TEST_NATS_URL } from './support/nats.ts'
import { childrenOf, startNode } from './support/node.ts'
import { CHANNELS, type Client, httpClient, json, jsonArray, SCRIPTS, startServer } from './support/server.ts'

const DELIVERIES = '/rest/v1/service/deliveries'
const LOOPBACK = { egressAllow: ['127.0.0.1/32'] }

interface Received {
  readonly headers: IncomingHttpHeaders
  readonly body: string
  /** What the standardwebhooks library made of it with each secret: the payload, or its error. */
  readonly verified: Record<string, unknown>
}

/**
 * A receiver on loopback that verifies every request with the standardwebhooks library, as a
 * receiver following docs/deliveries.md does, and answers what `answer` says for the n-th one.
 */
async function receiver(t: TestContext, secrets: readonly string[], answer: (n: number) => number = () => 204) {
  const received: Received[] = []
  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const verified: Record<string, unknown> = {}
      for (const secret of secrets) {
        try {
          verified[secret] = new Webhook(secret).verify(body, request.headers as Record<string, string>)
        } catch (error) {
          verified[secret] = error instanceof Error ? error.message : String(error)
        }
      }
      received.push({ headers: request.headers, body, verified })
      response.statusCode = answer(received.length)
      response.end(response.statusCode >= 300 ? 'try later' : '')
    })
  })
  server.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  t.after(() => new Promise((resolve) => server.close(resolve)))
  server.keepAliveTimeout = 100
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`, received }
}

const secret = () => `whsec_${randomBytes(32).toString('base64')}`

async function outChannel(root: Client, code: string, url: string, deliver: Record<string, unknown>) {
  const reply = await root.post(CHANNELS, { code, type: 'public', url, opts: { deliver } })
  assert.equal(reply.status, 200, reply.text)
  return json(reply) as { id: string; opts: { deliver: Record<string, unknown> } }
}

async function deliver(root: Client, channelId: string, body: Record<string, unknown>): Promise<string> {
  const reply = await root.post(`${CHANNELS}/${channelId}/deliver`, body)
  assert.equal(reply.status, 200, reply.text)
  return (json(reply) as { delivery_id: string }).delivery_id
}

/** The delivery once `test` holds for it (attempts run from the queue). */
async function deliveryWhen(root: Client, id: string, test: (delivery: Record<string, unknown>) => boolean) {
  for (let i = 0; ; i++) {
    const delivery = json(await root.get(`${DELIVERIES}/${id}`))
    if (test(delivery)) return delivery
    assert.ok(i < 200, `delivery ${id} did not get there: ${JSON.stringify(delivery)}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

type Attempt = { status_code: number | null; error: string | null; response_excerpt: string | null; duration_ms: number }

describe('outbound deliveries', () => {
  it('channels.deliver: a receiver that fails twice gets three attempts with the same webhook-id, each signed validly', async (t) => {
    const { root, url } = await startServer(t, { config: LOOPBACK })
    const key = secret()
    const target = await receiver(t, [key], (n) => (n <= 2 ? 503 : 200))
    const out = await outChannel(root, 'orders-out', target.url, { secret: key, retry_s: [0.05, 0.1] })
    // The secret is write-only.
    assert.equal(out.opts.deliver.secret, `${key.slice(0, 6)}…${key.slice(-4)}`)
    await root.post(SCRIPTS, {
      code: 'notify',
      source:
        "return channels.deliver('orders-out', { type: 'order.paid', order: startparam(4).order }, { event_type: 'order.paid' })",
    })
    const inbound = json(
      await root.post(CHANNELS, { code: 'in', type: 'public', recv_svcscriptcode: 'notify', opts: { issync: true } }),
    )
    const answer = await fetch(`${url}/exec/${String(inbound.token_local)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"order":42}',
    })
    assert.equal(answer.status, 200)
    const { delivery_id: id } = (await answer.json()) as { delivery_id: string }

    const done = await deliveryWhen(root, id, (delivery) => delivery.status !== 'pending')
    assert.equal(done.status, 'succeeded')
    assert.equal(done.channel_id, out.id)
    assert.equal(done.event_type, 'order.paid')
    assert.deepEqual(done.payload, { type: 'order.paid', order: 42 })
    assert.equal(done.next_attempt_at, null)
    const attempts = done.attempts as Attempt[]
    assert.deepEqual(
      attempts.map((attempt) => [attempt.status_code, attempt.error]),
      [
        [503, 'the receiver answered 503'],
        [503, 'the receiver answered 503'],
        [200, null],
      ],
    )
    assert.equal(attempts[0]?.response_excerpt, 'try later')
    assert.equal(target.received.length, 3)
    for (const request of target.received) {
      assert.equal(request.headers['webhook-id'], id, 'the same webhook-id on every attempt')
      assert.equal(request.headers['switchboard-event-type'], 'order.paid')
      assert.deepEqual(request.verified[key], { type: 'order.paid', order: 42 }, 'standardwebhooks accepts the signature')
    }
    const samples = parseMetrics((await httpClient(url).get('/metrics')).text)
    const attemptsOf = (outcome: string) =>
      sample(samples, 'switchboard_delivery_attempts_total', { domain: 'default', channel: 'orders-out', outcome })
    assert.equal(attemptsOf('retried'), 2)
    assert.equal(attemptsOf('succeeded'), 1)
    assert.equal(
      sample(samples, 'switchboard_delivery_attempt_duration_seconds_count', { domain: 'default', channel: 'orders-out' }),
      3,
    )
  })

  it('ends failed after the schedule when the receiver always fails, and stays listed as a dead letter', async (t) => {
    const { root } = await startServer(t, { config: LOOPBACK })
    const key = secret()
    const target = await receiver(t, [key], () => 500)
    const out = await outChannel(root, 'flaky', target.url, { secret: key, retry_s: [0.05, 0.05, 0.05] })
    const id = await deliver(root, out.id, { payload: { n: 1 }, event_type: 'ping' })
    const failed = await deliveryWhen(root, id, (delivery) => delivery.status !== 'pending')
    assert.equal(failed.status, 'failed')
    assert.equal((failed.attempts as Attempt[]).length, 4, 'the first attempt and one per retry_s entry')
    assert.equal(target.received.length, 4)
    const dead = jsonArray(await root.get(`${DELIVERIES}?filter=${encodeURIComponent('{"status":"failed"}')}`))
    assert.deepEqual(
      dead.map((delivery) => delivery.id),
      [id],
    )
    // A failed delivery cannot be cancelled; an unknown one is 1404.
    assertError(await root.post(`${DELIVERIES}/${id}/cancel`), 409, /only pending ones/)
    assertError(await root.post(`${DELIVERIES}/00000000-0000-4000-8000-000000000000/retry`), 404)
    // A retry starts the schedule again: four more attempts, then failed again.
    assert.equal((await root.post(`${DELIVERIES}/${id}/retry`)).status, 200)
    const again = await deliveryWhen(
      root,
      id,
      (delivery) => delivery.status === 'failed' && (delivery.attempts as Attempt[]).length > 4,
    )
    assert.equal((again.attempts as Attempt[]).length, 8)
    assert.equal(again.generation, 1)
  })

  it('retries failed deliveries in bulk, and single ones, once the receiver is back', async (t) => {
    const { root } = await startServer(t, { config: LOOPBACK })
    const key = secret()
    let up = false
    const target = await receiver(t, [key], () => (up ? 200 : 502))
    const out = await outChannel(root, 'bulk', target.url, { secret: key, retry_s: [] })
    const ids = [
      await deliver(root, out.id, { payload: { n: 1 } }),
      await deliver(root, out.id, { payload: { n: 2 } }),
      await deliver(root, out.id, { payload: { n: 3 } }),
    ]
    for (const id of ids) await deliveryWhen(root, id, (delivery) => delivery.status === 'failed')
    up = true
    const bulk = await root.post(`${DELIVERIES}/retry`, { filter: { status: 'failed', channel_id: out.id } })
    assert.equal(bulk.status, 200, bulk.text)
    assert.deepEqual(bulk.body, { retried: 3 })
    for (const id of ids) {
      const done = await deliveryWhen(root, id, (delivery) => delivery.status === 'succeeded')
      assert.deepEqual(
        (done.attempts as Attempt[]).map((attempt) => attempt.status_code),
        [502, 200],
      )
    }
    const webhookIds = target.received
      .filter((request) => request.verified[key] !== undefined)
      .map((r) => r.headers['webhook-id'])
    assert.deepEqual([...new Set(webhookIds)].sort(), [...ids].sort())
    assertError(await root.post(`${DELIVERIES}/${ids[0]}/retry`), 409, /succeeded/)
    assertError(await root.post(`${DELIVERIES}/retry`, { filter: { status: 'succeeded' } }), 400)
  })

  it('answers the same delivery for the same id, cancels a pending one, and signs with both secrets during a rotation', async (t) => {
    const { root } = await startServer(t, { config: LOOPBACK })
    const [oldKey, newKey] = [secret(), secret()]
    const target = await receiver(t, [oldKey, newKey], () => 500)
    const out = await outChannel(root, 'rotating', target.url, { secret: oldKey, retry_s: [3600] })
    const first = await deliver(root, out.id, { payload: { n: 1 }, id: 'order-42' })
    assert.equal(await deliver(root, out.id, { payload: { n: 1 }, id: 'order-42' }), first)
    const waiting = await deliveryWhen(root, first, (delivery) => (delivery.attempts as Attempt[]).length === 1)
    assert.equal(waiting.status, 'pending')
    assert.ok(Date.parse(String(waiting.next_attempt_at)) >= Date.now() + 3_500_000, 'the next attempt waits an hour or more')
    const cancelled = await root.post(`${DELIVERIES}/${first}/cancel`)
    assert.equal(cancelled.status, 200, cancelled.text)
    assert.equal((json(cancelled) as { status: string }).status, 'cancelled')

    const rotated = await root.patch(`${CHANNELS}/${out.id}`, { opts: { deliver: { secret: newKey, retry_s: [] } } })
    assert.equal(rotated.status, 200, rotated.text)
    const shown = (json(rotated).opts as { deliver: Record<string, unknown> }).deliver
    assert.equal(shown.secret, `${newKey.slice(0, 6)}…${newKey.slice(-4)}`)
    assert.equal(shown.previous_secret, `${oldKey.slice(0, 6)}…${oldKey.slice(-4)}`)
    const second = await deliver(root, out.id, { payload: { n: 2 } })
    await deliveryWhen(root, second, (delivery) => delivery.status === 'failed')
    const request = target.received.find((r) => r.headers['webhook-id'] === second)
    assert.equal(String(request?.headers['webhook-signature']).split(' ').length, 2)
    assert.deepEqual(request?.verified[newKey], { n: 2 })
    assert.deepEqual(request?.verified[oldKey], { n: 2 })

    // A PATCH that sends the masks back keeps both.
    const kept = await root.patch(`${CHANNELS}/${out.id}`, { opts: { deliver: { ...shown, retry_s: [] } } })
    assert.equal(kept.status, 200, kept.text)
    const third = await deliver(root, out.id, { payload: { n: 3 } })
    await deliveryWhen(root, third, (delivery) => delivery.status === 'failed')
    assert.deepEqual(target.received.find((r) => r.headers['webhook-id'] === third)?.verified[newKey], { n: 3 })
  })

  it('refuses a loopback url without an egress allowance, and records why', async (t) => {
    const { root } = await startServer(t)
    const key = secret()
    const target = await receiver(t, [key])
    const out = await outChannel(root, 'inside', target.url, { secret: key, retry_s: [0.05] })
    const id = await deliver(root, out.id, { payload: { n: 1 } })
    const failed = await deliveryWhen(root, id, (delivery) => delivery.status === 'failed')
    const attempts = failed.attempts as Attempt[]
    assert.equal(attempts.length, 2)
    for (const attempt of attempts) {
      assert.equal(attempt.status_code, null)
      assert.match(
        String(attempt.error),
        /^refused by the egress rules: 127\.0\.0\.1 is a private, loopback or link-local address/,
      )
    }
    assert.equal(target.received.length, 0)
  })

  it('refuses bad input: no url, an unknown channel, an oversized payload, a bad secret', async (t) => {
    const { root } = await startServer(t)
    const bare = json(await root.post(CHANNELS, { code: 'bare', type: 'public' }))
    assertError(await root.post(`${CHANNELS}/${String(bare.id)}/deliver`, { payload: {} }), 400, /has no url/)
    assertError(await root.post(`${CHANNELS}/00000000-0000-4000-8000-000000000000/deliver`, { payload: {} }), 404)
    assertError(await root.post(`${CHANNELS}/${String(bare.id)}/deliver`, {}), 400)
    const unsigned = json(await root.post(CHANNELS, { code: 'unsigned', type: 'public', url: 'https://example.com/hooks' }))
    assertError(await root.post(`${CHANNELS}/${String(unsigned.id)}/deliver`, { payload: {} }), 400, /has no opts\.deliver/)
    const out = await outChannel(root, 'big', 'https://example.com/hooks', {})
    assert.match(String(out.opts.deliver.secret), /^whsec_…/, 'a secret is generated when none is given')
    assertError(await root.post(`${CHANNELS}/${out.id}/deliver`, { payload: 'x'.repeat(600 * 1024) }), 413)
    const bad = await root.post(CHANNELS, { code: 'bad', type: 'public', opts: { deliver: { secret: 'plain' } } })
    assertError(bad, 400, /whsec_/, 'opts.deliver.secret')
  })

  it('delivers every one of 200 pending deliveries at least once after kill -9 of the node and a restart', async (t) => {
    const key = secret()
    let up = false
    const target = await receiver(t, [key], () => (up ? 200 : 503))
    const env = { SWITCHBOARD_EGRESS_ALLOW: '127.0.0.1/32' }
    const first = await startNode(t, { workers: 2, env })
    const out = await outChannel(first.root, 'durable', target.url, { secret: key, retry_s: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1] })
    const ids: string[] = []
    for (let batch = 0; batch < 4; batch++) {
      ids.push(
        ...(await Promise.all(
          Array.from({ length: 50 }, (_, i) => deliver(first.root, out.id, { payload: { n: batch * 50 + i } })),
        )),
      )
    }
    const workers = [...childrenOf(first.supervisor.pid as number, 'worker-main').keys()]
    first.supervisor.kill('SIGKILL')
    for (const pid of workers) process.kill(pid, 'SIGKILL')
    await new Promise((resolve) => first.supervisor.once('exit', resolve))
    up = true

    const second = await startNode(t, { workers: 2, env, dataDir: first.dataDir })
    await second.until(
      async () => {
        const done = jsonArray(
          await second.root.get(`${DELIVERIES}?limit=1000&mask=id&filter=${encodeURIComponent('{"status":"succeeded"}')}`),
        )
        return done.length === 200
      },
      60_000,
      'every delivery to succeed',
    )
    const delivered = new Set(
      target.received
        .filter((request) => request.verified[key] !== undefined && typeof request.verified[key] === 'object')
        .map((r) => r.headers['webhook-id']),
    )
    assert.equal(ids.filter((id) => !delivered.has(id)).length, 0, 'each one reached the receiver, validly signed')
  })

  it('in cluster mode (PostgreSQL and the JetStream queue): retries, then delivers, signed', async (t) => {
    const prefix = newNatsPrefix()
    t.after(() => deleteStreamsOf(prefix))
    const { root } = await startServer(t, {
      backend: 'postgres',
      config: { ...LOOPBACK, natsUrl: TEST_NATS_URL, natsPrefix: prefix },
    })
    const key = secret()
    const target = await receiver(t, [key], (n) => (n === 1 ? 500 : 200))
    const out = await outChannel(root, 'clustered', target.url, { secret: key, retry_s: [0.05] })
    const id = await deliver(root, out.id, { payload: { n: 1 }, id: 'once' })
    assert.equal(await deliver(root, out.id, { payload: { n: 1 }, id: 'once' }), id)
    const done = await deliveryWhen(root, id, (delivery) => delivery.status !== 'pending')
    assert.equal(done.status, 'succeeded')
    assert.deepEqual(
      (done.attempts as Attempt[]).map((attempt) => attempt.status_code),
      [500, 200],
    )
    assert.deepEqual(
      target.received.map((request) => [request.headers['webhook-id'], request.verified[key]]),
      [
        [id, { n: 1 }],
        [id, { n: 1 }],
      ],
    )
  })

  it('channels.deliver works from a script host process (process isolation), and names a bad option', async (t) => {
    const { root, url } = await startServer(t, { config: LOOPBACK, env: { SWITCHBOARD_SCRIPT_ISOLATION: 'process' } })
    const key = secret()
    const target = await receiver(t, [key])
    await outChannel(root, 'hosted-out', target.url, { secret: key })
    await root.post(SCRIPTS, {
      code: 'hosted',
      source: "return channels.deliver('hosted-out', { bytes: new Uint8Array([1, 2]).length }, { id: 'h-1' })",
    })
    const inbound = json(
      await root.post(CHANNELS, { code: 'hosted-in', type: 'public', recv_svcscriptcode: 'hosted', opts: { issync: true } }),
    )
    const answer = await fetch(`${url}/exec/${String(inbound.token_local)}`, { method: 'POST' })
    assert.equal(answer.status, 200, await answer.clone().text())
    const { delivery_id: id } = (await answer.json()) as { delivery_id: string }
    const done = await deliveryWhen(root, id, (delivery) => delivery.status === 'succeeded')
    assert.equal(done.idempotency_id, 'h-1')
    assert.deepEqual(target.received[0]?.verified[key], { bytes: 2 })
    // A bad option is the script's error, named.
    await root.post(SCRIPTS, { code: 'bad-options', source: "return channels.deliver('hosted-out', {}, { id: 7 })" })
    const bad = json(
      await root.post(CHANNELS, { code: 'bad-in', type: 'public', recv_svcscriptcode: 'bad-options', opts: { issync: true } }),
    )
    const refused = await fetch(`${url}/exec/${String(bad.token_local)}`, { method: 'POST' })
    assert.equal(refused.status, 500)
    const failedRun = `/rest/v1/service/executions?filter=${encodeURIComponent(JSON.stringify({ script_code: 'bad-options' }))}`
    let [record] = jsonArray(await root.get(failedRun))
    for (let i = 0; record === undefined && i < 100; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20))
      ;[record] = jsonArray(await root.get(failedRun))
    }
    assert.match(JSON.stringify(record?.error), /channels\.deliver: id must be a string of 1–128 characters/)
  })
})
