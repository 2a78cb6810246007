import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { type ClusterNode, startCluster } from './support/cluster.ts'
import { capabilityRole } from './support/iam.ts'
import { deleteStreamsOf, newNatsPrefix, TEST_NATS_URL } from './support/nats.ts'
import { startNode } from './support/node.ts'
import { dropSchema, newSchemaName, TEST_DATABASE_URL } from './support/postgres.ts'
import { rawRequest } from './support/raw-http.ts'
import { CHANNELS, type Client, DOMAINS, json, jsonArray, SCRIPTS } from './support/server.ts'

const EXECUTIONS = '/rest/v1/service/executions'

import { TestSocket } from './support/ws-client.ts'

async function webhook(node: ClusterNode, token: string, body: unknown = {}): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${node.url}/exec`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  const text = await response.text()
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) }
}

async function hookChannel(root: Client, code: string, source: string, opts: Record<string, unknown> = { issync: true }) {
  assert.equal((await root.post(SCRIPTS, { code: `${code}-script`, source })).status, 200)
  const reply = await root.post(CHANNELS, { code, type: 'public', recv_svcscriptcode: `${code}-script`, opts })
  assert.equal(reply.status, 200, reply.text)
  return json(reply) as { id: string; token_local: string }
}

async function socket(node: ClusterNode, token: string, t: { after(fn: () => void): void }): Promise<TestSocket> {
  const client = new TestSocket(`${node.url.replace('http', 'ws')}/ws/token/v1/${token}`)
  t.after(() => client.socket.close())
  await client.opened()
  return client
}

async function connectionId(client: TestSocket): Promise<string> {
  const qid = `info-${Math.random()}`
  client.send(['connection_info', { qid }])
  return String((await client.answer('connection_info_result', qid))[1].connectionid)
}

describe('cluster mode: several nodes on PostgreSQL and NATS', () => {
  it('runs each node as the embedded mode does, a supervisor and its workers, each worker a peer', async (t) => {
    // Two machines' worth: `switchboard serve` twice, two workers each, on one schema and prefix.
    const schema = newSchemaName()
    const prefix = newNatsPrefix()
    t.after(async () => {
      await dropSchema(schema)
      await deleteStreamsOf(prefix)
    })
    const env = {
      SWITCHBOARD_DATABASE_URL: TEST_DATABASE_URL,
      SWITCHBOARD_DATABASE_SCHEMA: schema,
      SWITCHBOARD_NATS_URL: TEST_NATS_URL,
      SWITCHBOARD_NATS_PREFIX: prefix,
    }
    const a = await startNode(t, { workers: 2, env })
    const b = await startNode(t, { workers: 2, env })
    const channel = await hookChannel(a.root, 'shop', 'return { v: startparam(4).v }')
    // Every worker of B serves the channel created through A, at once; each request on a
    // connection of its own, so both workers take some.
    const post = (url: string, token: string, v: number) =>
      rawRequest(url, 'POST', `/exec/${token}`, { 'content-type': 'application/json' }, JSON.stringify({ v }))
    for (let v = 0; v < 20; v++) assert.deepEqual((await post(b.url, channel.token_local, v)).body, { v })
    const rotated = json(await b.root.patch(`${CHANNELS}/${channel.id}`, { token_local: null }))
    for (let v = 0; v < 20; v++) {
      assert.equal((await post(a.url, channel.token_local, v)).status, 404, 'the old token fails on every worker of A')
      assert.deepEqual((await post(a.url, String(rotated.token_local), v)).body, { v })
    }
    // An async webhook accepted by a worker of A runs (JetStream), and B lists its record.
    const later = await hookChannel(a.root, 'later', 'return startparam(4).v * 2', {})
    const accepted = json(await post(a.url, later.token_local, 21)).execution_id as string
    await b.until(async () => json(await b.root.get(`${EXECUTIONS}/${accepted}`)).status === 'ok', 30_000, 'the async run')
    assert.deepEqual(json(await b.root.get(`${EXECUTIONS}/${accepted}`)).output, { result: 42 })
  })

  it('sees a change made through one node on the very next request to another', async (t) => {
    const { nodes } = await startCluster(t, 2)
    const [a, b] = nodes as [ClusterNode, ClusterNode]
    const channel = await hookChannel(a.root, 'shop', 'return { v: 1 }')
    // Created through A: B serves it at once.
    assert.deepEqual(await webhook(b, channel.token_local), { status: 200, body: { v: 1 } })

    const rotated = json(await a.root.patch(`${CHANNELS}/${channel.id}`, { token_local: null }))
    assert.equal((await webhook(b, channel.token_local)).status, 404, 'the old token fails on B')
    assert.equal((await webhook(b, String(rotated.token_local))).status, 200)

    const [script] = jsonArray(await a.root.get(`${SCRIPTS}?filter=${encodeURIComponent('{"code":"shop-script"}')}`))
    assert.equal((await a.root.patch(`${SCRIPTS}/${String(script?.id)}`, { source: 'return { v: 2 }' })).status, 200)
    assert.deepEqual((await webhook(b, String(rotated.token_local))).body, { v: 2 }, "B's next execution runs the new source")

    assert.equal((await b.root.delete(`${CHANNELS}/${channel.id}`)).status, 200)
    assert.equal((await webhook(a, String(rotated.token_local))).status, 404, 'deleted through B: gone on A')
  })

  it('delivers pushes from a script on one node to connections on another, sync answers included', async (t) => {
    const { nodes } = await startCluster(t, 2)
    const [a, b] = nodes as [ClusterNode, ClusterNode]
    assert.equal((await a.root.post(SCRIPTS, { code: 'noop', source: 'return null' })).status, 200)
    const room = json(await a.root.post(CHANNELS, { code: 'room', type: 'public', recv_svcscriptcode_ws: 'noop' }))
    const pusher = await hookChannel(
      a.root,
      'pusher',
      `const { to, sync } = startparam(4)
if (to === 'room') return await ws.send({ channel: 'room' }, 'notice', { n: 1 })
return await ws.send(to, 'confirm', { order: 7 }, { sync, timeout: 10_000 })`,
    )
    const onB = await socket(b, String(room.token_local), t)
    const alsoOnB = await socket(b, String(room.token_local), t)
    const onA = await socket(a, String(room.token_local), t)
    const id = await connectionId(onB)

    // A sync push from a script on A to the connection on B, answered by the client.
    const waiting = webhook(a, pusher.token_local, { to: id, sync: true })
    const [, push] = await onB.next(([name]) => name === 'confirm')
    assert.equal(push.order, 7)
    onB.send(['confirm_result', { qid: push.qid, ok: 'yes' }])
    assert.deepEqual((await waiting).body, { qid: push.qid, ok: 'yes' })

    // To the whole channel: every connection on every node.
    assert.equal((await webhook(a, pusher.token_local, { to: 'room' })).status, 200)
    for (const client of [onB, alsoOnB, onA]) assert.deepEqual((await client.next(([name]) => name === 'notice'))[1], { n: 1 })

    // Either node lists the connections of both.
    for (const node of [a, b]) {
      const listed = jsonArray(await node.root.get(`/rest/v1/service/connections?channel_id=${String(room.id)}`))
      assert.equal(listed.length, 3)
      assert.equal(new Set(listed.map((connection) => connection.node)).size, 2)
      assert.ok(listed.some((connection) => connection.id === id))
    }
  })

  it('gives each event of an eventing channel with connections on three nodes to one connection only', async (t) => {
    const { nodes } = await startCluster(t, 3)
    const [a] = nodes as [ClusterNode]
    const emitter = await hookChannel(a.root, 'emitter', 'for (let n = 0; n < 100; n++) await events.emit("tick", { n })')
    const opts = { filter_capabilities: ['subscr'], roles: [await capabilityRole(a.root, ['subscr'])] }
    const bus = json(await a.root.post(CHANNELS, { code: 'bus', type: 'eventing', opts }))
    const pub = json(await a.root.post(CHANNELS, { code: 'pub', type: 'public', opts }))
    const shared: TestSocket[] = []
    const everyone: TestSocket[] = []
    for (const node of nodes) {
      shared.push(await socket(node, String(bus.token_local), t))
      everyone.push(await socket(node, String(pub.token_local), t))
    }
    for (const client of [...shared, ...everyone]) {
      client.send(['subscribe', { qid: 's', id: 'ticks', events: ['projectevents.tick'], expires: 60 }])
      assert.equal((await client.answer('subscribe_result', 's'))[1].result, 'ok')
    }
    assert.equal((await webhook(a, emitter.token_local)).status, 200)

    const numbers = (client: TestSocket) =>
      client.frames.filter(([name]) => name === 'event').map(([, event]) => (event.data as { n: number }).n)
    const all = Array.from({ length: 100 }, (_, n) => n)
    for (let i = 0; i < 200 && shared.flatMap(numbers).length < 100; i++) await new Promise((resolve) => setTimeout(resolve, 25))
    for (const client of everyone) {
      for (let i = 0; i < 200 && numbers(client).length < 100; i++) await new Promise((resolve) => setTimeout(resolve, 25))
    }
    // Nothing more is on its way: a round trip on each connection.
    for (const client of shared) await connectionId(client)
    assert.deepEqual(
      shared.flatMap(numbers).sort((x, y) => x - y),
      all,
      'each event exactly once over the three nodes',
    )
    assert.ok(shared.filter((client) => numbers(client).length > 0).length >= 2, 'the nodes share the work')
    for (const client of everyone) assert.deepEqual(numbers(client), all, 'an ordinary channel: every connection gets each event')
  })

  it('never over-allocates a licence under concurrent creates on two nodes', async (t) => {
    const { nodes } = await startCluster(t, 2)
    const [a, b] = nodes as [ClusterNode, ClusterNode]
    const [domain] = jsonArray(await a.root.get(`${DOMAINS}?filter=${encodeURIComponent('{"name":"default"}')}`))
    assert.equal((await a.root.patch(`${DOMAINS}/${String(domain?.id)}`, { license: { public: 3 } })).status, 200)
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? a : b).root.post(CHANNELS, { code: `c${i}`, type: 'public' })),
    )
    assert.equal(answers.filter((answer) => answer.status === 200).length, 3)
    assert.ok(answers.filter((answer) => answer.status !== 200).every((answer) => answer.status === 403))
    assert.equal(Number((await b.root.get(CHANNELS)).headers.get('x-total-count')), 3)
  })

  it('serves a file uploaded through one node from another, whole, by range and by temporary link, until it is deleted', async (t) => {
    const { nodes } = await startCluster(t, 2)
    const [a, b] = nodes as [ClusterNode, ClusterNode]
    const channel = await hookChannel(a.root, 'drop', 'return await files.tempLink(startparam(4).path)', {
      issync: true,
      allow_files_api: true,
    })
    const auth = { authorization: `Bearer ${channel.token_local}` }
    const file = (node: ClusterNode) => `${node.url}/files/reports/q4.bin`
    const bytes = randomBytes(3 * 1024 * 1024 + 5)
    const put = await fetch(file(a), { method: 'PUT', headers: { ...auth, 'content-type': 'application/x-q4' }, body: bytes })
    assert.equal(put.status, 201)
    const entry = (await put.json()) as Record<string, unknown>
    assert.deepEqual(
      { ...entry, mtime: undefined },
      {
        path: 'reports/q4.bin',
        size: bytes.length,
        content_type: 'application/x-q4',
        mtime: undefined,
      },
    )

    const whole = await fetch(file(b), { headers: auth })
    assert.equal(whole.status, 200)
    assert.equal(whole.headers.get('etag'), put.headers.get('etag'))
    assert.equal(whole.headers.get('content-type'), 'application/x-q4')
    assert.ok(Buffer.from(await whole.arrayBuffer()).equals(bytes), 'B serves the bytes A stored')
    const part = await fetch(file(b), { headers: { ...auth, range: 'bytes=1000000-2999999' } })
    assert.equal(part.status, 206)
    assert.equal(part.headers.get('content-range'), `bytes 1000000-2999999/${bytes.length}`)
    assert.ok(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(1000000, 3000000)))
    const listed = await fetch(`${b.url}/files/?prefix=reports/`, { headers: auth })
    assert.deepEqual(await listed.json(), [entry])

    // A temporary link made by a script on A serves on B.
    const made = await fetch(`${a.url}/exec`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ path: 'reports/q4.bin' }),
    })
    const link = await made.text()
    assert.match(link, /^\/temp\/[A-Za-z0-9_-]{43}$/)
    const linked = await fetch(`${b.url}${link}`)
    assert.equal(linked.status, 200)
    assert.ok(Buffer.from(await linked.arrayBuffer()).equals(bytes), 'the link made on A serves on B')

    const removed = await fetch(file(b), { method: 'DELETE', headers: auth })
    assert.deepEqual([removed.status, await removed.json()], [200, entry])
    const gone = await fetch(file(a), { headers: auth })
    assert.deepEqual([gone.status, await gone.json()], [404, { error_code: 1404, error_message: "no file 'reports/q4.bin'" }])
    const goneLink = await fetch(`${a.url}${link}`)
    assert.deepEqual(
      [goneLink.status, await goneLink.json()],
      [404, { error_code: 1404, error_message: 'the linked file no longer exists' }],
    )
  })
})
