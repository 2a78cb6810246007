// Webhook throughput on loopback: a bare fastify route doing a 1 KB JSON transform in plain JS,
// a sync webhook whose service script does the same transform, and the accept of an async
// webhook (stored durably before the answer), in one run.
//   bin/bench webhooks            (BENCH_ROUNDS, BENCH_SECONDS, BENCH_CONNECTIONS to change the load)
import { startChildServer } from './support/child-server.ts'
import { compare, load, report } from './support/load.ts'
import { ORDER_JSON } from './support/order.ts'

const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const seconds = Number(process.env.BENCH_SECONDS ?? 5)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50)

const order = ORDER_JSON
const body = () => order

const bare = await startChildServer(new URL('./servers/bare-fastify.ts', import.meta.url))
const switchboard = await startChildServer(new URL('./servers/switchboard.ts', import.meta.url))
try {
  const { url, syncToken, asyncToken } = switchboard.info as { url: string; syncToken: string; asyncToken: string }
  const baseline = (s: number) => load(bare, { url: `${bare.info.url}/transform`, method: 'POST', body, connections, seconds: s })
  const sync = await compare('sync webhook (1 KB JSON transform)', rounds, seconds, baseline, (s) =>
    load(switchboard, { url: `${url}/exec/${syncToken}`, method: 'POST', body, connections, seconds: s }),
  )
  const accepts = await compare('async webhook accept', rounds, seconds, baseline, (s) =>
    load(switchboard, { url: `${url}/exec/${asyncToken}`, method: 'POST', body, connections, seconds: s }),
  )
  process.stdout.write(
    `Webhooks, ${connections} connections, median of ${rounds} rounds of ${seconds} s (Node ${process.version}, ${order.length} B body)\n` +
      'CPU µs/req counts the server process only, not its script host processes.\n\n' +
      `${report([sync, accepts], { baseline: 'bare fastify', subject: 'Switchboard' })}\n`,
  )
} finally {
  await Promise.all([bare.stop(), switchboard.stop()])
}
