// Websocket Token API: `message` round trips through a trivial script (50 connections, each
// sending its next message when the last is answered) against a bare ws server answering the
// same frames, in alternating rounds; then the server memory of 10,000 idle connections.
//   bin/bench websocket        (BENCH_ROUNDS, BENCH_SECONDS, BENCH_CONNECTIONS, BENCH_IDLE)
import WebSocket from 'ws'
import { type ChildServer, startChildServer } from './support/child-server.ts'
import { median } from './support/load.ts'
import { startSwitchboard } from './support/switchboard-node.ts'

const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const seconds = Number(process.env.BENCH_SECONDS ?? 5)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50)
const idle = Number(process.env.BENCH_IDLE ?? 10_000)

function connect(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url)
    socket.once('open', () => resolve(socket))
    socket.once('error', reject)
  })
}

/** Round trips per second over `sockets`, each one message at a time, for `duration` s. */
async function roundTrips(sockets: readonly WebSocket[], duration: number): Promise<number> {
  const end = performance.now() + duration * 1000
  let done = 0
  await Promise.all(
    sockets.map(
      (socket, index) =>
        new Promise<void>((resolve) => {
          let qid = 0
          const next = () => {
            if (performance.now() >= end) {
              socket.off('message', onMessage)
              resolve()
              return
            }
            socket.send(JSON.stringify(['message', { qid: ++qid, data: { n: index, text: 'hello' } }]))
          }
          const onMessage = () => {
            done++
            next()
          }
          socket.on('message', onMessage)
          next()
        }),
    ),
  )
  return done / duration
}

async function openMany(url: string, count: number): Promise<WebSocket[]> {
  const sockets: WebSocket[] = []
  for (let i = 0; i < count; i += 200) {
    sockets.push(...(await Promise.all(Array.from({ length: Math.min(200, count - i) }, () => connect(url)))))
  }
  return sockets
}

async function idleMemory(server: ChildServer, url: string): Promise<{ perConnection: number; base: number }> {
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const before = server.rssBytes()
  const sockets = await openMany(url, idle)
  await new Promise((resolve) => setTimeout(resolve, 2000))
  const after = server.rssBytes()
  for (const socket of sockets) socket.terminate()
  return { perConnection: (after - before) / idle, base: before }
}

const bare = await startChildServer(new URL('./servers/bare-ws.ts', import.meta.url))
const switchboard = await startSwitchboard()
try {
  const bareUrl = `${bare.info.url.replace('http', 'ws')}/`
  const sbUrl = `${switchboard.info.url.replace('http', 'ws')}/ws/token/v1/${switchboard.info.wsToken}`
  const bareSockets = await openMany(bareUrl, connections)
  const sbSockets = await openMany(sbUrl, connections)
  await roundTrips(bareSockets, 2)
  await roundTrips(sbSockets, 2)
  const rates = { bare: [] as number[], switchboard: [] as number[] }
  for (let round = 0; round < rounds; round++) {
    rates.bare.push(await roundTrips(bareSockets, seconds))
    rates.switchboard.push(await roundTrips(sbSockets, seconds))
  }
  for (const socket of [...bareSockets, ...sbSockets]) socket.terminate()
  const bareIdle = await idleMemory(bare, bareUrl)
  const sbIdle = await idleMemory(switchboard, sbUrl)
  const b = median(rates.bare)
  const s = median(rates.switchboard)
  const kb = (bytes: number) => (bytes / 1024).toFixed(1)
  process.stdout.write(
    `Websocket, ${connections} connections, median of ${rounds} rounds of ${seconds} s (Node ${process.version})\n\n` +
      '| measurement | bare ws | Switchboard | ratio |\n|---|---:|---:|---:|\n' +
      `| message round trips/s (trivial script) | ${b.toFixed(0)} | ${s.toFixed(0)} | ${((100 * s) / b).toFixed(0)} % |\n` +
      `| server memory per idle connection (${idle} open) | ${kb(bareIdle.perConnection)} KB | ${kb(sbIdle.perConnection)} KB | |\n` +
      `\nServer RSS before the idle connections: bare ${kb(bareIdle.base / 1024)} MB, Switchboard ${kb(sbIdle.base / 1024)} MB (every process of the node: the supervisor and its workers).\n`,
  )
} finally {
  await Promise.all([bare.stop(), switchboard.stop()])
}
