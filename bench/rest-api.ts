// Admin REST API throughput: GET one channel and POST create, Switchboard (embedded mode,
// SQLite) against a bare fastify route answering the same JSON, in one run.
//   bin/bench rest-api            (BENCH_ROUNDS, BENCH_SECONDS, BENCH_CONNECTIONS to change the load)
import { startChildServer } from './support/child-server.ts'
import { compare, load, report } from './support/load.ts'
import { startSwitchboard } from './support/switchboard-node.ts'

const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const seconds = Number(process.env.BENCH_SECONDS ?? 5)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50)

const bare = await startChildServer(new URL('./servers/bare-fastify.ts', import.meta.url))
const switchboard = await startSwitchboard()
try {
  const auth = { authorization: `Bearer ${switchboard.info.key}` }
  const channels = `${switchboard.info.url}/rest/v1/service/integration_points`
  let n = 0
  const create = () => JSON.stringify({ code: `c${n++}`, type: 'public' })

  const reads = await compare(
    'GET one channel',
    rounds,
    seconds,
    (s) => load(bare, { url: `${bare.info.url}/item/x`, connections, seconds: s }),
    (s) => load(switchboard, { url: `${channels}/${switchboard.info.channelId}`, headers: auth, connections, seconds: s }),
  )
  const creates = await compare(
    'POST create channel',
    rounds,
    seconds,
    (s) => load(bare, { url: `${bare.info.url}/item`, method: 'POST', body: create, connections, seconds: s }),
    (s) => load(switchboard, { url: channels, method: 'POST', headers: auth, body: create, connections, seconds: s }),
  )
  process.stdout.write(
    `Admin REST API, ${connections} connections, median of ${rounds} rounds of ${seconds} s (Node ${process.version})\n\n` +
      `${report([reads, creates], { baseline: 'bare fastify', subject: 'Switchboard' })}\n`,
  )
} finally {
  await Promise.all([bare.stop(), switchboard.stop()])
}
