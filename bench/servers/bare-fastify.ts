// The baseline: plain fastify answering the same JSON as Switchboard's channel routes (and doing
// the webhook bench's transform, and streaming the files bench's file), with nothing else (no
// auth, no store, no validation, no sandbox). Prints READY {"url"} when it listens.
import { randomUUID } from 'node:crypto'
import { createReadStream, statSync } from 'node:fs'
import Fastify from 'fastify'
import { type Order, transform } from '../support/order.ts'

const entity = {
  id: randomUUID(),
  code: 'bench',
  type: 'public',
  token_local: '0123456789abcdef0123456789abcdef',
  token_remote: '',
  token_remote2: '',
  ipmask: [],
  url: '',
  recv_svcscriptcode: '',
  send_svcscriptcode: '',
  recv_svcscriptcode_ws: '',
  send_svcscriptcode_ws: '',
  opts: {
    allow_files_api: false,
    comment: '',
    issync: false,
    recv_timeout: 0,
    roles: [],
    userid: null,
    title: '',
    filter_capabilities: [],
  },
  ext: { ct: new Date().toISOString(), lwt: new Date().toISOString() },
}

const app = Fastify({ logger: false, bodyLimit: 10 << 20 })
app.get('/item/:id', async () => entity)
// The webhook baseline: the same 1 KB JSON transform as the bench's service script, in plain JS.
app.post('/transform', async (request) => transform(request.body as Order))
app.post('/item', async (request) => ({ ...entity, ...(request.body as object), id: randomUUID() }))
// The files baseline: the file named by BENCH_FILE as a static stream (what a static handler does).
const benchFile = process.env.BENCH_FILE
if (benchFile !== undefined) {
  app.get('/file', (_request, reply) => {
    reply.header('content-type', 'application/octet-stream').header('content-length', statSync(benchFile).size)
    return reply.send(createReadStream(benchFile))
  })
}
const url = await app.listen({ host: '127.0.0.1', port: 0 })
process.stdout.write(`READY ${JSON.stringify({ url })}\n`)
process.on('SIGTERM', () => app.close().then(() => process.exit(0)))
