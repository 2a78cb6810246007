// Cluster scaling on loopback: the sync webhook of bench/webhooks.ts against one node, then
// against two nodes with the load split between them (each node pinned to a core with taskset),
// in one run; and async accepts on the two-node cluster. The nodes share the machine's PostgreSQL
// (a schema of the run's own) and NATS (a subject prefix of its own).
//   bin/bench cluster            (BENCH_ROUNDS, BENCH_SECONDS, BENCH_CONNECTIONS to change the load)
import { randomBytes } from 'node:crypto'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import pg from 'pg'
import { type ChildServer, startChildServer } from './support/child-server.ts'
import { type LoadResult, load, median } from './support/load.ts'
import { ORDER_JSON, transformSource } from './support/order.ts'

const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const seconds = Number(process.env.BENCH_SECONDS ?? 5)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50)
const databaseUrl = process.env.SWITCHBOARD_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const natsUrl = process.env.SWITCHBOARD_TEST_NATS_URL ?? 'nats://127.0.0.1:4222'

const key = 'bench-root-key-0123456789abcdef'
const schema = `bench_${randomBytes(4).toString('hex')}`
const prefix = `bench${randomBytes(4).toString('hex')}`
const env = {
  SWITCHBOARD_HOST: '127.0.0.1',
  SWITCHBOARD_PORT: '0',
  SWITCHBOARD_ADMIN_KEY: key,
  SWITCHBOARD_DATABASE_URL: databaseUrl,
  SWITCHBOARD_NATS_URL: natsUrl,
  SWITCHBOARD_NATS_PREFIX: prefix,
  SWITCHBOARD_LOG_LEVEL: 'warn',
  // One script host per node: each node and its host share the node's core.
  SWITCHBOARD_SCRIPT_HOSTS: '1',
  BENCH_PG_SCHEMA: schema,
}
const script = new URL('./servers/cluster-node.ts', import.meta.url)
const body = () => ORDER_JSON

async function post(url: string, path: string, payload: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${url}/rest/v1/service/${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(payload),
  })
  if (response.status !== 200) throw new Error(`POST ${path}: ${response.status} ${await response.text()}`)
  return (await response.json()) as Record<string, unknown>
}

/** One load on several nodes at once, the connections split between them; req/s summed, latencies the worst. */
async function split(nodes: readonly ChildServer[], path: (node: ChildServer) => string, s: number): Promise<LoadResult> {
  const each = Math.max(1, Math.floor(connections / nodes.length))
  const results = await Promise.all(
    nodes.map((node) =>
      load(node, { url: `${node.info.url}${path(node)}`, method: 'POST', body, connections: each, seconds: s }),
    ),
  )
  return {
    requestsPerSecond: results.reduce((sum, r) => sum + r.requestsPerSecond, 0),
    cpuMicrosPerRequest: median(results.map((r) => r.cpuMicrosPerRequest)),
    p50: Math.max(...results.map((r) => r.p50)),
    p99: Math.max(...results.map((r) => r.p99)),
    errors: results.reduce((sum, r) => sum + r.errors, 0),
    non2xx: results.reduce((sum, r) => sum + r.non2xx, 0),
  }
}

const nodes: ChildServer[] = []
try {
  nodes.push(await startChildServer(script, env, { cpu: 0 }))
  const first = nodes[0] as ChildServer
  await post(first.info.url, 'svcscripts', { code: 'transform', source: transformSource('startparam(4)') })
  const sync = await post(first.info.url, 'integration_points', {
    code: 'sync-hook',
    type: 'public',
    recv_svcscriptcode: 'transform',
    opts: { issync: true },
  })
  const queued = await post(first.info.url, 'integration_points', {
    code: 'async-hook',
    type: 'public',
    recv_svcscriptcode: 'transform',
    opts: { issync: false },
  })
  nodes.push(await startChildServer(script, env, { cpu: 1 }))
  const syncPath = () => `/exec/${String(sync.token_local)}`
  const asyncPath = () => `/exec/${String(queued.token_local)}`

  const one: LoadResult[] = []
  const two: LoadResult[] = []
  const accepts: LoadResult[] = []
  await split([first], syncPath, 2)
  await split(nodes, syncPath, 2)
  for (let round = 0; round < rounds; round++) {
    one.push(await split([first], syncPath, seconds))
    two.push(await split(nodes, syncPath, seconds))
    accepts.push(await split(nodes, asyncPath, seconds))
  }
  const row = (name: string, results: LoadResult[]) => {
    const failures = results.reduce((sum, r) => sum + r.errors + r.non2xx, 0)
    return `| ${name} | ${median(results.map((r) => r.requestsPerSecond)).toFixed(0)} | ${median(results.map((r) => r.p50)).toFixed(1)} | ${median(results.map((r) => r.p99)).toFixed(1)} | ${median(results.map((r) => r.cpuMicrosPerRequest)).toFixed(0)} | ${failures} |`
  }
  const scaling = median(two.map((r) => r.requestsPerSecond)) / median(one.map((r) => r.requestsPerSecond))
  process.stdout.write(
    `Cluster (PostgreSQL + NATS), ${connections} connections, median of ${rounds} rounds of ${seconds} s (Node ${process.version}); nodes pinned with taskset\n` +
      'CPU µs/req counts each node process only (median over the nodes), not its script host.\n\n' +
      '| measurement | req/s | p50 ms | p99 ms | CPU µs/req | errors |\n|---|---:|---:|---:|---:|---:|\n' +
      `${row('sync webhook, 1 node', one)}\n${row('sync webhook, 2 nodes (load split)', two)}\n${row('async accept, 2 nodes', accepts)}\n\n` +
      `Scaling, 2 nodes / 1 node: ${scaling.toFixed(2)}×\n`,
  )
} finally {
  await Promise.all(nodes.map((node) => node.stop()))
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  await client.query(`drop schema if exists "${schema}" cascade`)
  await client.end()
  const nats = await connect({ servers: natsUrl })
  await (await jetstreamManager(nats)).streams.delete(`${prefix}_jobs`).catch(() => {})
  await nats.close()
}
