// Webhook throughput on loopback: a bare fastify route doing a 1 KB JSON transform in plain JS,
// a sync webhook whose service script does the same transform, and the accept of an async
// webhook (stored durably before the answer), in one run. Switchboard runs as users run it:
// `switchboard serve`, a supervisor and its workers (SWITCHBOARD_WORKERS, default one per core).
//   bin/bench webhooks            (BENCH_ROUNDS, BENCH_SECONDS, BENCH_CONNECTIONS to change the load)
import { startChildServer } from './support/child-server.ts'
import { compare, load, report } from './support/load.ts'
import { ORDER_JSON } from './support/order.ts'
import { startSwitchboard } from './support/switchboard-node.ts'

const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const seconds = Number(process.env.BENCH_SECONDS ?? 5)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50)

const order = ORDER_JSON
const body = () => order
const mb = (bytes: number) => `${(bytes / (1 << 20)).toFixed(0)} MB`

const bare = await startChildServer(new URL('./servers/bare-fastify.ts', import.meta.url))
const switchboard = await startSwitchboard()
try {
  const { url, syncToken, asyncToken } = switchboard.info as { url: string; syncToken: string; asyncToken: string }
  // Idle memory: every process of the node, after its start.
  await new Promise((resolve) => setTimeout(resolve, 2000))
  const idle = switchboard.processes()
  const pss = () => switchboard.processes().reduce((sum, use) => sum + use.pssBytes, 0)
  let peak = switchboard.rssBytes()
  let peakPss = pss()
  const sampler = setInterval(() => {
    peak = Math.max(peak, switchboard.rssBytes())
    peakPss = Math.max(peakPss, pss())
  }, 200)
  const cpuBefore = new Map(switchboard.processes().map((use) => [use.pid, use.cpuMicros]))
  let requests = 0
  const counted = (s: number, target: string) =>
    load(switchboard, { url: target, method: 'POST', body, connections, seconds: s }).then((result) => {
      requests += result.requestsPerSecond * s
      return result
    })
  const baseline = (s: number) => load(bare, { url: `${bare.info.url}/transform`, method: 'POST', body, connections, seconds: s })
  const sync = await compare('sync webhook (1 KB JSON transform)', rounds, seconds, baseline, (s) =>
    counted(s, `${url}/exec/${syncToken}`),
  )
  const accepts = await compare('async webhook accept', rounds, seconds, baseline, (s) => counted(s, `${url}/exec/${asyncToken}`))
  clearInterval(sampler)
  // CPU per process over both measurements: what the supervisor spends on behalf of the workers.
  const perProcess = switchboard.processes().map((use) => {
    const role = use.command.includes('worker-main')
      ? 'worker'
      : use.command.includes('script-host')
        ? 'script host'
        : 'supervisor'
    return `${role} ${use.pid}: ${((use.cpuMicros - (cpuBefore.get(use.pid) ?? 0)) / requests).toFixed(1)} µs/req`
  })
  process.stdout.write(
    `Webhooks, ${connections} connections, median of ${rounds} rounds of ${seconds} s (Node ${process.version}, ${order.length} B body)\n` +
      'CPU µs/req counts every process of the node (supervisor, workers, script hosts).\n\n' +
      `${report([sync, accepts], { baseline: 'bare fastify', subject: 'Switchboard' })}\n\n` +
      `Idle memory: RSS ${mb(idle.reduce((sum, use) => sum + use.rssBytes, 0))} in ${idle.length} processes ` +
      `(${idle.map((use) => mb(use.rssBytes)).join(' + ')}), PSS ${mb(idle.reduce((sum, use) => sum + use.pssBytes, 0))}; ` +
      `peak during the load: RSS ${mb(peak)}, PSS ${mb(peakPss)}; bare fastify: RSS ${mb(bare.rssBytes())}\n` +
      '(RSS sums count the pages the processes share, Node itself, once per process; PSS divides them.)\n' +
      `CPU by process, per request over both measurements: ${perProcess.join(', ')}\n`,
  )
} finally {
  await Promise.all([bare.stop(), switchboard.stop()])
}
