// How throughput grows with workers: the sync webhook bench's load against a node of one worker
// pinned to core 0, then a node of two workers pinned to cores 0 and 1 (one each), with the bare
// fastify route on core 0 as the yardstick. The load generator runs in this process, unpinned:
// with one worker it has a core nearly to itself, with two it shares them — on a machine with
// more cores than workers pin it apart (BENCH_LOAD_CPUS, e.g. "2,3").
//   bin/bench workers            (BENCH_ROUNDS, BENCH_SECONDS, BENCH_CONNECTIONS)
import { execFileSync } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { startChildServer } from './support/child-server.ts'
import { load, median } from './support/load.ts'
import { ORDER_JSON } from './support/order.ts'
import { startSwitchboard } from './support/switchboard-node.ts'

const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const seconds = Number(process.env.BENCH_SECONDS ?? 5)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50)
const body = () => ORDER_JSON

if (process.env.BENCH_LOAD_CPUS) execFileSync('taskset', ['-pc', process.env.BENCH_LOAD_CPUS, String(process.pid)])

/** Pins every worker of a node to a core of its own, in order. */
function pinWorkers(server: Awaited<ReturnType<typeof startSwitchboard>>): void {
  const workers = server.processes().filter((use) => use.command.includes('worker-main'))
  workers.forEach((worker, i) => {
    execFileSync('taskset', ['-pc', String(i % availableParallelism()), String(worker.pid)], { stdio: 'ignore' })
  })
}

const rows: string[] = []
const bare = await startChildServer(new URL('./servers/bare-fastify.ts', import.meta.url), {}, { cpu: 0 })
try {
  const rates: number[] = []
  for (let round = 0; round < rounds; round++) {
    rates.push(
      (await load(bare, { url: `${bare.info.url}/transform`, method: 'POST', body, connections, seconds })).requestsPerSecond,
    )
  }
  rows.push(`| bare fastify route, core 0 | ${median(rates).toFixed(0)} | | |`)
} finally {
  await bare.stop()
}
let one = 0
for (const workers of [1, 2]) {
  const node = await startSwitchboard({ workers })
  try {
    pinWorkers(node)
    const url = `${node.info.url}/exec/${node.info.syncToken}`
    await load(node, { url, method: 'POST', body, connections, seconds: 2 })
    const results = []
    for (let round = 0; round < rounds; round++)
      results.push(await load(node, { url, method: 'POST', body, connections, seconds }))
    const rate = median(results.map((result) => result.requestsPerSecond))
    if (workers === 1) one = rate
    rows.push(
      `| Switchboard, ${workers} worker${workers === 1 ? '' : 's'} (${workers === 1 ? 'core 0' : 'cores 0 and 1'}) | ${rate.toFixed(0)} | ` +
        `${median(results.map((result) => result.p99)).toFixed(1)} | ${workers === 1 ? '1.00×' : `${(rate / one).toFixed(2)}×`} |`,
    )
  } finally {
    await node.stop()
  }
}
process.stdout.write(
  `Sync webhook (1 KB JSON transform), ${connections} connections, median of ${rounds} rounds of ${seconds} s (Node ${process.version}, ${availableParallelism()} cores)\n\n` +
    '| server | req/s | p99 ms | vs one worker |\n|---|---:|---:|---:|\n' +
    `${rows.join('\n')}\n`,
)
