// Outbound deliveries per second to a local receiver that answers 204 at once, against a bare loop
// that POSTs the same signed payloads (Standard Webhooks headers, keep-alive, the same number of
// requests in flight). Two Switchboard figures: delivering — stored deliveries made due by a
// bulk retry, then attempted from the queue, signed, and their attempts written back — and end
// to end, each delivery also made through POST …/deliver (stored and queued before the answer).
// Switchboard runs as users run it: `switchboard serve`, a supervisor and its workers.
//   bin/bench deliveries          (BENCH_ROUNDS, BENCH_DELIVERIES, BENCH_CONNECTIONS to change the load;
//                                  BENCH_ASYNC_WORKERS sets the node's SWITCHBOARD_ASYNC_WORKERS, BENCH_NODE_OPTIONS
//                                  its NODE_OPTIONS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof")
import { createHmac, randomBytes, randomUUID } from 'node:crypto'
import { Agent, createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { median } from './support/load.ts'
import { ORDER_JSON } from './support/order.ts'
import { startSwitchboard } from './support/switchboard-node.ts'

const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const count = Number(process.env.BENCH_DELIVERIES ?? 2000)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32)

const secret = `whsec_${randomBytes(32).toString('base64')}`
const payload = JSON.parse(ORDER_JSON) as unknown
const body = JSON.stringify(payload)

// The receiver: counts what arrives, answers at once.
let received = 0
let waiting: { target: number; done: () => void } | undefined
const receiver = createServer((req, res) => {
  req.resume()
  req.on('end', () => {
    res.statusCode = 204
    res.end()
    received++
    if (waiting && received >= waiting.target) waiting.done()
  })
})
receiver.keepAliveTimeout = 10_000
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`
const arrived = (target: number) =>
  new Promise<void>((done) => {
    if (received >= target) return done()
    waiting = { target, done }
  })

/** Runs `task` `total` times with `parallel` in flight. */
async function inParallel(total: number, parallel: number, task: () => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < total) {
        next++
        await task()
      }
    }),
  )
}

function post(agent: Agent, url: string, headers: Record<string, string>, text: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      agent,
      headers: { ...headers, 'content-length': String(Buffer.byteLength(text)) },
    })
    req.on('error', reject)
    req.on('response', (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.end(text)
  })
}

/** The bare loop: the same signed POSTs, straight to the receiver. */
async function bareRound(): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections })
  const key = Buffer.from(secret.slice(6), 'base64')
  const started = performance.now()
  await inParallel(count, connections, async () => {
    const id = randomUUID()
    const timestamp = String(Math.floor(Date.now() / 1000))
    const signature = createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64')
    const headers = {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': timestamp,
      'webhook-signature': `v1,${signature}`,
    }
    const status = await post(agent, receiverUrl, headers, body)
    if (status !== 204) throw new Error(`the receiver answered ${status}`)
  })
  agent.destroy()
  return count / ((performance.now() - started) / 1000)
}

const switchboard = await startSwitchboard({
  env: {
    SWITCHBOARD_EGRESS_ALLOW: '127.0.0.1/32',
    ...(process.env.BENCH_ASYNC_WORKERS && { SWITCHBOARD_ASYNC_WORKERS: process.env.BENCH_ASYNC_WORKERS }),
    ...(process.env.BENCH_NODE_OPTIONS && { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS }),
  },
})
try {
  const { url, key } = switchboard.info as { url: string; key: string }
  const api = new Agent({ keepAlive: true, maxSockets: connections })
  const auth = { authorization: `Bearer ${key}`, 'content-type': 'application/json' }
  const call = (method: string, path: string, value?: unknown) =>
    fetch(`${url}${path}`, { method, headers: auth, ...(value !== undefined && { body: JSON.stringify(value) }) }).then(
      async (response) => {
        if (response.status !== 200) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`)
        return { total: Number(response.headers.get('x-total-count')), body: (await response.json()) as Record<string, unknown> }
      },
    )
  const channel = await call('POST', '/rest/v1/service/integration_points', {
    code: 'deliveries-out',
    type: 'public',
    url: receiverUrl,
    opts: { deliver: { secret } },
  })
  const channelId = String(channel.body.id)
  // Deliveries stored first, to a port nobody listens on (each fails at once, no retries), then
  // sent to the receiver by a bulk retry: what the queue and the attempts alone manage.
  const parked = await call('POST', '/rest/v1/service/integration_points', {
    code: 'deliveries-parked',
    type: 'public',
    url: 'http://127.0.0.1:1/closed',
    opts: { deliver: { secret, retry_s: [] } },
  })
  const parkedId = String(parked.body.id)
  const failedOf = async () =>
    (
      await call(
        'GET',
        `/rest/v1/service/deliveries?limit=0&filter=${encodeURIComponent(JSON.stringify({ channel_id: parkedId, status: 'failed' }))}`,
      )
    ).total
  const deliverBody = JSON.stringify({ payload, event_type: 'order.created' })

  /** Switchboard: POST …/deliver `count` times, until the receiver got every one. */
  const switchboardRound = async (): Promise<number> => {
    const target = received + count
    const started = performance.now()
    await inParallel(count, connections, async () => {
      const status = await post(api, `${url}/rest/v1/service/integration_points/${channelId}/deliver`, auth, deliverBody)
      if (status !== 200) throw new Error(`deliver answered ${status}`)
    })
    await arrived(target)
    return count / ((performance.now() - started) / 1000)
  }

  /** Delivering only: `count` stored, failed deliveries made due by bulk retries, until the receiver got every one. */
  const deliveringRound = async (): Promise<number> => {
    await call('PATCH', `/rest/v1/service/integration_points/${parkedId}`, { url: 'http://127.0.0.1:1/closed' })
    await inParallel(count, connections, async () => {
      const status = await post(api, `${url}/rest/v1/service/integration_points/${parkedId}/deliver`, auth, deliverBody)
      if (status !== 200) throw new Error(`deliver answered ${status}`)
    })
    while ((await failedOf()) < count) await new Promise((resolve) => setTimeout(resolve, 100))
    await call('PATCH', `/rest/v1/service/integration_points/${parkedId}`, { url: receiverUrl })
    const target = received + count
    const started = performance.now()
    for (let left = count; left > 0; ) {
      const { body: answer } = await call('POST', '/rest/v1/service/deliveries/retry', {
        filter: { channel_id: parkedId, status: 'failed' },
      })
      left -= Number(answer.retried)
    }
    await arrived(target)
    return count / ((performance.now() - started) / 1000)
  }

  await switchboardRound() // warm-up: isolates, connections, statements
  const bare: number[] = []
  const delivering: number[] = []
  const ours: number[] = []
  for (let round = 0; round < rounds; round++) {
    bare.push(await bareRound())
    delivering.push(await deliveringRound())
    ours.push(await switchboardRound())
  }
  const b = median(bare)
  const d = median(delivering)
  const s = median(ours)
  process.stdout.write(
    `Deliveries to a local receiver that answers 204 at once: ${count} per round, ${connections} in flight, ` +
      `median of ${rounds} rounds (Node ${process.version}, ${body.length} B payload)\n\n` +
      '| | deliveries/s | share of the bare loop |\n|---|---|---|\n' +
      `| bare loop (signed POSTs, keep-alive) | ${b.toFixed(0)} | 100 % |\n` +
      `| Switchboard delivering (stored deliveries made due by a bulk retry → attempted, recorded) | ${d.toFixed(0)} | ${((100 * d) / b).toFixed(0)} % |\n` +
      `| Switchboard (POST …/deliver → stored, queued, attempted, recorded) | ${s.toFixed(0)} | ${((100 * s) / b).toFixed(0)} % |\n`,
  )
  api.destroy()
} finally {
  await switchboard.stop()
  receiver.close()
}
