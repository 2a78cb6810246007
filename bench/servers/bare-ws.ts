// The websocket baseline: plain ws answering each ["message", {qid, data}] with
// ["message_result", {qid, success: true, data}] — the Token API's shape with nothing behind it
// (no token, no registry, no script). Prints READY {"url"} when it listens.
import { createServer } from 'node:http'
import { WebSocketServer } from 'ws'

const server = createServer()
const wss = new WebSocketServer({ server, maxPayload: 1 << 20 })
wss.on('connection', (socket) => {
  socket.on('message', (data) => {
    const [, payload] = JSON.parse(String(data)) as [string, { qid: unknown; data: unknown }]
    socket.send(JSON.stringify(['message_result', { qid: payload.qid, success: true, data: payload.data }]))
  })
})
server.listen(0, '127.0.0.1', () => {
  const address = server.address() as { port: number }
  process.stdout.write(`READY ${JSON.stringify({ url: `http://127.0.0.1:${address.port}` })}\n`)
})
process.on('SIGTERM', () => {
  for (const client of wss.clients) client.terminate()
  server.close(() => process.exit(0))
})
