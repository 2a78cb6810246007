import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { type ClusterNode, startCluster } from './support/cluster.ts'
import { CHANNELS, type Client, json, jsonArray, SCRIPTS } from './support/server.ts'
import { TestSocket } from './support/ws-client.ts'

const EXECUTIONS = '/rest/v1/service/executions'

async function channelWith(root: Client, code: string, source: string, issync: boolean): Promise<string> {
  assert.equal((await root.post(SCRIPTS, { code: `${code}-script`, source })).status, 200)
  const reply = await root.post(CHANNELS, {
    code,
    type: 'public',
    recv_svcscriptcode: `${code}-script`,
    recv_svcscriptcode_ws: `${code}-script`,
    opts: { issync },
  })
  assert.equal(reply.status, 200, reply.text)
  return json(reply).token_local as string
}

/** Accepts `count` async webhooks, spread over the nodes, a few at a time; answers their execution ids. */
async function acceptMany(nodes: readonly ClusterNode[], token: string, count: number): Promise<string[]> {
  const ids: string[] = []
  let next = 0
  const worker = async () => {
    while (next < count) {
      const n = next++
      const node = nodes[n % nodes.length] as ClusterNode
      const response = await fetch(`${node.url}/exec/${token}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ n }),
      })
      const answer = (await response.json()) as { execution_id: string }
      assert.equal(response.status, 200, JSON.stringify(answer))
      ids.push(answer.execution_id)
    }
  }
  await Promise.all(Array.from({ length: 20 }, worker))
  return ids
}

/** The ids among `ids` whose executions ended ok. */
async function finished(root: Client, ids: readonly string[]): Promise<Set<string>> {
  const wanted = new Set(ids)
  const done = new Set<string>()
  for (let offset = 0; ; offset += 1000) {
    const page = jsonArray(
      await root.get(`${EXECUTIONS}?filter=${encodeURIComponent('{"status":"ok"}')}&mask=id&limit=1000&offset=${offset}`),
    )
    for (const { id } of page) if (wanted.has(id as string)) done.add(id as string)
    if (page.length < 1000) return done
  }
}

async function waitFor(what: string, test: () => Promise<boolean>, ms = 90_000): Promise<void> {
  const end = performance.now() + ms
  while (!(await test())) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

/** A NATS server of this test's own (with JetStream on a fresh directory), which it may stop and start. */
async function privateNats(t: TestContext): Promise<{ url: string; restart(): Promise<void> }> {
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address() as { port: number }
      probe.close(() => resolve(free))
    })
  })
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-nats-'))
  let server: ChildProcess | undefined
  const start = async () => {
    server = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], { stdio: 'ignore' })
    for (let i = 0; i < 100; i++) {
      const up = await new Promise<boolean>((resolve) => {
        const socket = createServer()
        socket.once('error', () => resolve(true))
        socket.listen(port, '127.0.0.1', () => socket.close(() => resolve(false)))
      })
      if (up) return
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    throw new Error('nats-server did not start')
  }
  const stop = async () => {
    if (!server || server.exitCode !== null) return
    server.kill('SIGTERM')
    await once(server, 'exit')
  }
  t.after(async () => {
    await stop()
    rmSync(dir, { recursive: true, force: true })
  })
  await start()
  return {
    url: `nats://127.0.0.1:${port}`,
    restart: async () => {
      await stop()
      await new Promise((resolve) => setTimeout(resolve, 500))
      await start()
    },
  }
}

describe('cluster mode under faults (real processes)', () => {
  it('runs every accepted async webhook at least once when a node is killed mid-run', async (t) => {
    const { nodes } = await startCluster(t, 3, { env: { SWITCHBOARD_ASYNC_WORKERS: '8' } })
    const [first, victim, survivor] = nodes as [ClusterNode, ClusterNode, ClusterNode]
    const token = await channelWith(first.root, 'jobs', 'await sleep(100)\nreturn startparam(4).n', false)
    const ids = await acceptMany(nodes, token, 1000)
    assert.equal(new Set(ids).size, 1000)
    await waitFor('some jobs to run', async () => (await finished(survivor.root, ids)).size >= 100)
    await victim.kill()
    const ranBeforeKill = (await finished(survivor.root, ids)).size
    assert.ok(ranBeforeKill < 1000, `the kill came mid-run (${ranBeforeKill} had run)`)
    await waitFor('every job to run', async () => (await finished(survivor.root, ids)).size === 1000)
  })

  it('lets the clients of a killed node reconnect elsewhere, leaving the other nodes’ connections alone', async (t) => {
    const { nodes } = await startCluster(t, 3)
    const [doomed, second, third] = nodes as [ClusterNode, ClusterNode, ClusterNode]
    const token = await channelWith(doomed.root, 'chat', 'return { echo: startparam(2) }', true)
    const connect = async (node: ClusterNode) => {
      const client = new TestSocket(`${node.url.replace('http', 'ws')}/ws/token/v1/${token}`)
      t.after(() => client.socket.close())
      await client.opened()
      return client
    }
    const roundTrip = async (client: TestSocket, n: number) => {
      client.send(['message', { qid: n, data: n }])
      assert.deepEqual((await client.answer('message_result', n))[1], { qid: n, success: true, data: { echo: n } })
    }
    const onDoomed = [await connect(doomed), await connect(doomed)]
    const others = [await connect(second), await connect(third)]
    let othersClosed = 0
    for (const client of others) void client.closed.then(() => othersClosed++)
    for (const [i, client] of [...onDoomed, ...others].entries()) await roundTrip(client, i)

    await doomed.kill()
    for (const client of onDoomed) assert.equal((await client.closed).code, 1006, 'dropped without a closing handshake')
    // The clients reconnect, to the nodes that are left, and carry on.
    const reconnected = [await connect(second), await connect(third)]
    for (const [i, client] of reconnected.entries()) await roundTrip(client, 10 + i)
    for (const [i, client] of others.entries()) await roundTrip(client, 20 + i)
    assert.equal(othersClosed, 0, 'no other connection was disturbed')
  })

  it('carries on when NATS restarts: the nodes reconnect and no accepted job is lost', async (t) => {
    const nats = await privateNats(t)
    const { nodes } = await startCluster(t, 2, { natsUrl: nats.url, env: { SWITCHBOARD_ASYNC_WORKERS: '4' } })
    const [a, b] = nodes as [ClusterNode, ClusterNode]
    const token = await channelWith(a.root, 'slow', 'await sleep(50)\nreturn startparam(4).n', false)
    const ids = await acceptMany(nodes, token, 300)
    await nats.restart()

    await waitFor('every job accepted before the restart to run', async () => (await finished(b.root, ids)).size === 300)
    // The bus works again: a change through A is served by B, and webhooks run on both.
    const hook = await channelWith(a.root, 'after', 'return { ok: startparam(4).n }', true)
    for (const [n, node] of [a, b].entries()) {
      const response = await fetch(`${node.url}/exec/${hook}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ n }),
      })
      assert.equal(response.status, 200)
      assert.deepEqual(await response.json(), { ok: n })
    }
  })
})
