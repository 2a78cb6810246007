// Two revisions of Switchboard on the hot paths, in alternating rounds: this tree's server
// against the one in BENCH_BASE (another checkout, e.g. `git archive <rev> | tar -x -C /tmp/base`
// with node_modules linked), so a change's cost is measured under the same load. Prints req/s
// and the server's CPU per request of each, and the change.
//   BENCH_BASE=/tmp/base bin/bench revisions    (BENCH_ROUNDS 8, BENCH_SECONDS 4, BENCH_PATHS)
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import WebSocket from 'ws'
import { type ChildServer, startChildServer } from './support/child-server.ts'
import { load, median } from './support/load.ts'
import { ORDER_JSON } from './support/order.ts'

const base = process.env.BENCH_BASE
if (!base) throw new Error('set BENCH_BASE to the directory of the revision to compare with')
const rounds = Number(process.env.BENCH_ROUNDS ?? 8)
const seconds = Number(process.env.BENCH_SECONDS ?? 4)
const paths = (process.env.BENCH_PATHS ?? 'sync,async,ws,get').split(',')

const server = (root: string) => startChildServer(pathToFileURL(resolve(root, 'bench/servers/switchboard.ts')))
const sides = { before: await server(base), after: await server(new URL('..', import.meta.url).pathname) }
type Side = keyof typeof sides

interface Sample {
  readonly rate: number
  readonly cpu: number
}

async function messages(target: ChildServer, duration: number): Promise<Sample> {
  const url = `${target.info.url.replace('http', 'ws')}/ws/token/v1/${target.info.wsToken}`
  const sockets = await Promise.all(
    Array.from(
      { length: 50 },
      () =>
        new Promise<WebSocket>((done, fail) => {
          const socket = new WebSocket(url)
          socket.once('open', () => done(socket))
          socket.once('error', fail)
        }),
    ),
  )
  const cpuBefore = target.cpuMicros()
  const end = performance.now() + duration * 1000
  let answered = 0
  await Promise.all(
    sockets.map(
      (socket, n) =>
        new Promise<void>((done) => {
          let qid = 0
          const next = () => {
            if (performance.now() >= end) {
              socket.off('message', onMessage)
              done()
              return
            }
            socket.send(JSON.stringify(['message', { qid: ++qid, data: { n, text: 'hello' } }]))
          }
          const onMessage = () => {
            answered++
            next()
          }
          socket.on('message', onMessage)
          next()
        }),
    ),
  )
  const cpu = target.cpuMicros() - cpuBefore
  for (const socket of sockets) socket.terminate()
  return { rate: answered / duration, cpu: cpu / answered }
}

async function run(path: string, side: Side, duration: number): Promise<Sample> {
  const target = sides[side]
  const { url, syncToken, asyncToken, key, channelId } = target.info
  if (path === 'ws') return messages(target, duration)
  const result =
    path === 'get'
      ? await load(target, {
          url: `${url}/rest/v1/service/integration_points/${channelId}`,
          headers: { authorization: `Bearer ${key}` },
          seconds: duration,
        })
      : await load(target, {
          url: `${url}/exec/${path === 'sync' ? syncToken : asyncToken}`,
          method: 'POST',
          body: () => ORDER_JSON,
          seconds: duration,
        })
  return { rate: result.requestsPerSecond, cpu: result.cpuMicrosPerRequest }
}

const names: Record<string, string> = {
  sync: 'sync webhook',
  async: 'async webhook accept',
  ws: 'websocket message',
  get: 'admin GET one channel',
}
try {
  const samples = new Map(paths.map((path) => [path, { before: [] as Sample[], after: [] as Sample[] }]))
  for (const path of paths) for (const side of ['before', 'after'] as const) await run(path, side, 2)
  for (let round = 0; round < rounds; round++) {
    for (const path of paths) {
      // Alternate which side goes first, so a drift in the machine's load hits both alike.
      for (const side of round % 2 === 0 ? (['before', 'after'] as const) : (['after', 'before'] as const)) {
        samples.get(path)?.[side].push(await run(path, side, seconds))
      }
    }
  }
  const percent = (after: number, before: number) =>
    `${after >= before ? '+' : ''}${((100 * (after - before)) / before).toFixed(1)} %`
  const lines = [
    `Revisions: ${base} (before) and this tree (after), median of ${rounds} alternating rounds of ${seconds} s (Node ${process.version})`,
    '',
    '| path | before req/s | after req/s | change | before CPU µs/req | after CPU µs/req | change |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ]
  for (const [path, { before, after }] of samples) {
    const [rateBefore, rateAfter] = [median(before.map((s) => s.rate)), median(after.map((s) => s.rate))]
    const [cpuBefore, cpuAfter] = [median(before.map((s) => s.cpu)), median(after.map((s) => s.cpu))]
    lines.push(
      `| ${names[path] ?? path} | ${rateBefore.toFixed(0)} | ${rateAfter.toFixed(0)} | ${percent(rateAfter, rateBefore)} | ` +
        `${cpuBefore.toFixed(1)} | ${cpuAfter.toFixed(1)} | ${percent(cpuAfter, cpuBefore)} |`,
    )
  }
  process.stdout.write(`${lines.join('\n')}\n`)
} finally {
  await Promise.all([sides.before.stop(), sides.after.stop()])
}
