import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it, type TestContext } from 'node:test'
import { startNode, type TestNode } from './support/node.ts'
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from './support/otlp-receiver.ts'
import { recordedExecutions, saveScript } from './support/scripts.ts'
import { CHANNELS, type Client, httpClient, json, ROOT_KEY } from './support/server.ts'
import { type StubRequest, startStub } from './support/stub-server.ts'
import { TestSocket } from './support/ws-client.ts'

const SERVER = 2
const CLIENT = 3
const INTERNAL = 1
const ERROR = 2

/** A trace context as an upstream system sends it: a fresh trace, its span, sampled. */
function upstream(): { traceId: string; spanId: string; traceparent: string } {
  const traceId = randomBytes(16).toString('hex')
  const spanId = randomBytes(8).toString('hex')
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` }
}

/** A node exporting its spans to `receiver` (OTLP/HTTP), quickly (50 ms batches), whose scripts may call loopback. */
async function tracedNode(t: TestContext, receiver: OtlpReceiver, env: Record<string, string> = {}): Promise<TestNode> {
  return startNode(t, {
    workers: 2,
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '50',
      OTEL_SERVICE_NAME: 'switchboard-under-test',
      SWITCHBOARD_EGRESS_ALLOW: '127.0.0.1/32',
      ...env,
    },
  })
}

/** A downstream system: answers every call 200 with `{"ok":true}` and keeps what it got. */
function downstream(t: TestContext) {
  return startStub(t, (_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}')
  })
}

/** A channel whose `field` names a script saved with `source`; answers its token. */
async function channelWith(
  client: Client,
  code: string,
  scripts: { recv?: string; send?: string; ws?: string },
  fields: Record<string, unknown> = {},
  opts: Record<string, unknown> = {},
): Promise<{ id: string; token: string }> {
  const refs: Record<string, string> = {}
  if (scripts.recv !== undefined) refs.recv_svcscriptcode = await saved(client, `${code}-recv`, scripts.recv)
  if (scripts.send !== undefined) refs.send_svcscriptcode = await saved(client, `${code}-send`, scripts.send)
  if (scripts.ws !== undefined) refs.recv_svcscriptcode_ws = await saved(client, `${code}-ws`, scripts.ws)
  const reply = await client.post(CHANNELS, { code, type: 'public', ...refs, ...fields, opts: { issync: true, ...opts } })
  assert.equal(reply.status, 200, reply.text)
  const channel = json(reply)
  return { id: channel.id as string, token: channel.token_local as string }
}

async function saved(client: Client, code: string, source: string): Promise<string> {
  await saveScript(client, code, source)
  return code
}

async function post(node: TestNode, token: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${node.url}/exec/${token}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })
  return { status: response.status, headers: response.headers, text: await response.text() }
}

function inTrace(spans: readonly ReceivedSpan[], traceId: string): ReceivedSpan[] {
  return spans.filter((span) => span.traceId === traceId)
}

/** The one span of `spans` named `name` (fails when there is none, or several). */
function only(spans: readonly ReceivedSpan[], name: string, where: (span: ReceivedSpan) => boolean = () => true): ReceivedSpan {
  const found = spans.filter((span) => span.name === name && where(span))
  assert.equal(found.length, 1, `one span '${name}' expected, found ${found.length}: ${JSON.stringify(spans.map((s) => s.name))}`)
  return found[0] as ReceivedSpan
}

/** What a called system received as the caller's trace context. */
function traceHeaders(request: StubRequest | undefined): { traceparent: unknown; tracestate: unknown } {
  return { traceparent: request?.headers.traceparent, tracestate: request?.headers.tracestate }
}

describe('traces (OpenTelemetry over OTLP/HTTP)', () => {
  it('carries an inbound traceparent through the webhook, its run and the http.request it makes, in a worker and in a script host', async (t) => {
    const receiver = await startOtlpReceiver(t)
    const shop = await downstream(t)
    const node = await tracedNode(t, receiver)
    const created = await node.root.post('/rest/v1/master/domains', { name: 'hosted', opts: { script_isolation: 'process' } })
    assert.equal(created.status, 200, created.text)
    const domains = [
      { client: node.root, role: 'worker' },
      { client: httpClient(node.url, ROOT_KEY, { 'switchboard-domain': 'hosted' }), role: 'script-host' },
    ]
    const tokens: string[] = []
    const call = `const answer = await http.request({ method: 'POST', url: 'orders?secret=1', body: startparam(4) })
return { called: answer.status }`
    for (const { client, role } of domains) {
      const orders = await channelWith(client, 'orders', { recv: call }, { url: `${shop.url}/shop/` })
      tokens.push(orders.token)
      const caller = upstream()
      const answer = await post(node, orders.token, { n: 1 }, { traceparent: caller.traceparent, tracestate: 'upstream=1' })
      assert.equal(answer.status, 200, answer.text)
      assert.equal(answer.text, '{"called":200}')
      const executionId = answer.headers.get('switchboard-execution-id') as string

      const spans = inTrace(await receiver.until((all) => inTrace(all, caller.traceId).length >= 3), caller.traceId)
      assert.equal(spans.length, 3, role)
      const server = only(spans, 'POST /exec/*')
      assert.equal(server.kind, SERVER)
      assert.equal(server.parentSpanId, caller.spanId)
      assert.equal(server.traceState, 'upstream=1')
      assert.deepEqual(server.attributes, {
        'http.request.method': 'POST',
        'http.route': '/exec/*',
        'url.scheme': 'http',
        'network.protocol.version': '1.1',
        'switchboard.request_id': server.attributes['switchboard.request_id'],
        'url.path': '/exec/~',
        'client.address': '127.0.0.1',
        'switchboard.channel.id': orders.id,
        'switchboard.channel.code': 'orders',
        'http.response.status_code': 200,
      })
      assert.equal(server.resource['switchboard.process.role'], 'worker')
      assert.equal(server.resource['service.name'], 'switchboard-under-test')

      const run = only(spans, 'script orders-recv')
      assert.equal(run.kind, INTERNAL)
      assert.equal(run.parentSpanId, server.spanId)
      assert.deepEqual(run.status, { code: 0, message: '' })
      assert.equal(run.attributes['switchboard.execution.id'], executionId)
      assert.equal(run.attributes['switchboard.trigger'], 'http')
      assert.equal(run.attributes['switchboard.channel.id'], orders.id)
      assert.equal(run.attributes['switchboard.channel.code'], 'orders')
      assert.equal(run.attributes['switchboard.script.code'], 'orders-recv')
      assert.equal(run.attributes['switchboard.execution.status'], 'ok')
      assert.match(String(run.attributes['switchboard.domain.id']), /^[0-9a-f-]{36}$/)

      const outbound = only(spans, 'POST')
      assert.equal(outbound.kind, CLIENT)
      assert.equal(outbound.parentSpanId, run.spanId)
      assert.deepEqual(outbound.attributes, {
        'http.request.method': 'POST',
        'url.full': `${shop.url}/shop/orders`,
        'server.address': '127.0.0.1',
        'server.port': Number(new URL(shop.url).port),
        'http.response.status_code': 200,
      })
      // In process isolation, http.request runs in the domain's script host, which exports its own spans.
      assert.equal(outbound.resource['switchboard.process.role'], role)

      // The system called gets the client span as its parent, and the caller's tracestate.
      assert.deepEqual(traceHeaders(shop.requests.at(-1)), {
        traceparent: `00-${caller.traceId}-${outbound.spanId}-01`,
        tracestate: 'upstream=1',
      })
      const [record] = await recordedExecutions(client, { id: executionId }, 1)
      assert.equal(record?.trace_id, caller.traceId)
    }
    // No token in any span, nor the query string the script sent.
    const exported = JSON.stringify(receiver.spans)
    for (const secret of [...tokens, 'secret=1']) assert.equal(exported.includes(secret), false, secret)
  })

  it('marks a failed run and its webhook as errors, starts a trace for a request that names none, and follows a caller that samples nothing', async (t) => {
    const receiver = await startOtlpReceiver(t)
    const shop = await downstream(t)
    const node = await tracedNode(t, receiver)

    // A caller's trace that is not sampled: nothing exported, the context passed on all the same.
    const stock = await channelWith(node.root, 'stock', { recv: "await http.request({ url: 'stock' })" }, { url: shop.url })
    const unsampled = upstream()
    const quiet = await post(node, stock.token, {}, { traceparent: unsampled.traceparent.replace(/-01$/, '-00') })
    assert.equal(quiet.status, 200, quiet.text)
    assert.match(String(shop.requests.at(-1)?.headers.traceparent), new RegExp(`^00-${unsampled.traceId}-[0-9a-f]{16}-00$`))
    const [quietRecord] = await recordedExecutions(node.root, { id: quiet.headers.get('switchboard-execution-id') }, 1)
    assert.equal(quietRecord?.trace_id, unsampled.traceId)

    const broken = await channelWith(node.root, 'broken', { recv: "log.info('about to fail')\nthrow new Error('no stock')" })
    const answer = await post(node, broken.token, {}, { traceparent: 'not-a-traceparent' })
    assert.equal(answer.status, 500)
    const executionId = answer.headers.get('switchboard-execution-id') as string
    const spans = await receiver.until((all) => all.some((span) => span.attributes['switchboard.execution.id'] === executionId))
    const run = only(spans, 'script broken-recv')
    assert.deepEqual(run.status, { code: ERROR, message: 'no stock' })
    assert.equal(run.attributes['switchboard.execution.status'], 'error')
    assert.equal(run.attributes['error.type'], 'script_error')
    assert.deepEqual(run.events, [
      { name: 'exception', attributes: { 'exception.type': 'script_error', 'exception.message': 'no stock' } },
    ])
    const server = await receiver.until((all) => all.some((span) => span.spanId === run.parentSpanId))
    const webhook = only(server, 'POST /exec/*', (span) => span.spanId === run.parentSpanId)
    // A traceparent that is not one starts a trace of its own.
    assert.equal(webhook.parentSpanId, undefined)
    assert.equal(webhook.attributes['http.response.status_code'], 500)
    assert.deepEqual(webhook.status, { code: ERROR, message: 'HTTP 500' })
    // By now the unsampled request's spans would have come (its run ended first, the batches are 50 ms).
    assert.deepEqual(inTrace(receiver.spans, unsampled.traceId), [])
  })

  it('traces channels.send, websocket frames and async webhooks, whose runs stay in the accepted request’s trace', async (t) => {
    const receiver = await startOtlpReceiver(t)
    const crm = await downstream(t)
    const node = await tracedNode(t, receiver, { SWITCHBOARD_ASYNC_RETRY_MS: '50' })

    // channels.send: the send span is the send script's run's parent, and that run's call's grandparent.
    await channelWith(
      node.root,
      'crm',
      { send: "await http.request({ method: 'PUT', url: 'contacts', body: startparam(2) })\nreturn 'sent'" },
      {
        url: crm.url,
      },
    )
    const inbound = await channelWith(node.root, 'inbound', { recv: "return await channels.send('crm', { id: 7 })" })
    const caller = upstream()
    const sent = await post(node, inbound.token, {}, { traceparent: caller.traceparent })
    assert.equal(sent.status, 200, sent.text)
    const sendTrace = inTrace(await receiver.until((all) => inTrace(all, caller.traceId).length >= 5), caller.traceId)
    const webhook = only(sendTrace, 'POST /exec/*')
    const recv = only(sendTrace, 'script inbound-recv')
    const send = only(sendTrace, 'channels.send crm')
    const sendRun = only(sendTrace, 'script crm-send')
    const put = only(sendTrace, 'PUT')
    assert.deepEqual(
      [webhook, recv, send, sendRun, put].map((span) => span.parentSpanId),
      [caller.spanId, webhook.spanId, recv.spanId, send.spanId, sendRun.spanId],
    )
    assert.equal(send.kind, INTERNAL)
    assert.equal(send.attributes['switchboard.channel.code'], 'crm')
    assert.equal(sendRun.attributes['switchboard.trigger'], 'send')
    assert.equal(traceHeaders(crm.requests.at(-1)).traceparent, `00-${caller.traceId}-${put.spanId}-01`)

    // A websocket message, and a start_svcscript: each frame's span is its run's parent.
    const ws = await channelWith(
      node.root,
      'socket',
      { ws: "const answer = await http.request({ url: 'ping' })\nreturn answer.status" },
      { url: crm.url },
      { filter_capabilities: ['svcscript'], roles: ['admin'] },
    )
    await saveScript(node.root, 'job', "await http.request({ url: 'job' })\nreturn startparam(1)")
    // The upgrade request names a trace: each frame's span links it, and is not its child.
    const upgrade = upstream()
    const client = new TestSocket(`${node.url.replace('http', 'ws')}/ws/token/v1/${ws.token}`, {
      traceparent: upgrade.traceparent,
    })
    t.after(() => client.socket.close())
    await client.opened()
    client.send(['message', { qid: 'm1', data: { x: 1 } }])
    assert.deepEqual((await client.answer('message_result', 'm1'))[1], { qid: 'm1', success: true, data: 200 })
    client.send(['start_svcscript', { qid: 's1', code: 'job', startparam1: 'a' }])
    assert.equal((await client.answer('start_svcscript_result', 's1'))[1].result, 'ok')
    const [messageCall, jobCall] = crm.requests.slice(-2).map((request) => String(request.headers.traceparent))
    for (const [frame, script, traceparent] of [
      ['message', 'socket-ws', messageCall],
      ['start_svcscript', 'job', jobCall],
    ] as const) {
      const traceId = String(traceparent).split('-')[1] as string
      const spans = inTrace(await receiver.until((all) => inTrace(all, traceId).length >= 3), traceId)
      const span = only(spans, `ws ${frame}`)
      const run = only(spans, `script ${script}`)
      const get = only(spans, 'GET')
      assert.equal(span.kind, SERVER)
      // Frames carry no trace context: each starts a trace, linked to the upgrade's.
      assert.equal(span.parentSpanId, undefined)
      assert.notEqual(traceId, upgrade.traceId)
      assert.deepEqual(span.links, [{ traceId: upgrade.traceId, spanId: upgrade.spanId }])
      assert.equal(span.attributes['switchboard.ws.frame'], frame)
      assert.equal(span.attributes['switchboard.channel.code'], 'socket')
      assert.match(String(span.attributes['switchboard.connection.id']), /^[0-9a-f-]{36}$/)
      assert.deepEqual([run.parentSpanId, get.parentSpanId], [span.spanId, run.spanId])
      assert.equal(run.attributes['switchboard.trigger'], frame === 'message' ? 'ws' : 'svcscript')
      assert.equal(traceparent, `00-${traceId}-${get.spanId}-01`)
    }

    // An async webhook: its runs happen later, from the queue, as children of the request's span;
    // the first fails (an error, retried), the second calls out.
    const later = await channelWith(
      node.root,
      'later',
      {
        recv: `globalThis.runs = (globalThis.runs ?? 0) + 1
if (globalThis.runs === 1) throw new Error('not yet')
await http.request({ method: 'POST', url: 'later' })`,
      },
      { url: crm.url },
      { issync: false },
    )
    const asyncCaller = upstream()
    const accepted = await post(node, later.token, { n: 2 }, { traceparent: asyncCaller.traceparent })
    assert.equal(accepted.status, 200, accepted.text)
    const executionId = JSON.parse(accepted.text).execution_id as string
    const asyncTrace = inTrace(await receiver.until((all) => inTrace(all, asyncCaller.traceId).length >= 4), asyncCaller.traceId)
    const accept = only(asyncTrace, 'POST /exec/*')
    assert.equal(accept.parentSpanId, asyncCaller.spanId)
    assert.equal(accept.attributes['http.response.status_code'], 200)
    const runs = asyncTrace.filter((span) => span.name === 'script later-recv')
    assert.deepEqual(
      runs.map((run) => [run.parentSpanId, run.attributes['switchboard.execution.id'], run.attributes['switchboard.attempt']]),
      [
        [accept.spanId, executionId, 1],
        [accept.spanId, executionId, 2],
      ],
    )
    assert.deepEqual(
      runs.map((run) => run.status.code),
      [ERROR, 0],
    )
    const retried = runs[1] as ReceivedSpan
    assert.equal(only(asyncTrace, 'POST').parentSpanId, retried.spanId)
    const [record] = await recordedExecutions(node.root, { id: executionId, status: 'ok' }, 1)
    assert.equal(record?.trace_id, asyncCaller.traceId)
  })

  it('traces each delivery attempt as a client span in the trace of the run that asked for it', async (t) => {
    const receiver = await startOtlpReceiver(t)
    const billing = await downstream(t)
    const node = await tracedNode(t, receiver)
    const out = await node.root.post(CHANNELS, { code: 'billing', type: 'public', url: billing.url, opts: { deliver: {} } })
    assert.equal(out.status, 200, out.text)
    const inbound = await channelWith(node.root, 'orders', { recv: "return await channels.deliver('billing', { order: 7 })" })
    const caller = upstream()
    const sent = await post(node, inbound.token, {}, { traceparent: caller.traceparent })
    assert.equal(sent.status, 200, sent.text)
    const deliveryId = (JSON.parse(sent.text) as { delivery_id: string }).delivery_id
    const trace = inTrace(
      await receiver.until((all) => inTrace(all, caller.traceId).some((span) => span.name === 'POST')),
      caller.traceId,
    )
    const run = only(trace, 'script orders-recv')
    const attempt = only(trace, 'POST')
    assert.equal(attempt.kind, CLIENT)
    assert.equal(attempt.parentSpanId, run.spanId)
    assert.equal(attempt.attributes['switchboard.delivery.id'], deliveryId)
    assert.equal(attempt.attributes['switchboard.attempt'], 1)
    assert.equal(attempt.attributes['http.response.status_code'], 200)
    const got = billing.requests.at(-1)
    assert.equal(got?.headers['webhook-id'], deliveryId)
    assert.equal(traceHeaders(got).traceparent, `00-${caller.traceId}-${attempt.spanId}-01`)
  })

  it('traces project API calls over the network, and a script’s api.request as a child of its run, without query strings', async (t) => {
    const receiver = await startOtlpReceiver(t)
    const node = await tracedNode(t, receiver)
    const caller = upstream()
    const query = `?filter=${encodeURIComponent('{"code":"secret-code"}')}`
    const listed = await node.root.request('GET', `${CHANNELS}${query}`, undefined, { traceparent: caller.traceparent })
    assert.equal(listed.status, 200, listed.text)
    const rest = only(
      inTrace(await receiver.until((all) => inTrace(all, caller.traceId).length > 0), caller.traceId),
      `GET ${CHANNELS}`,
    )
    assert.equal(rest.kind, SERVER)
    assert.equal(rest.parentSpanId, caller.spanId)
    assert.deepEqual(rest.attributes, {
      'http.request.method': 'GET',
      'http.route': CHANNELS,
      'url.scheme': 'http',
      'url.path': CHANNELS,
      'network.protocol.version': '1.1',
      'switchboard.request_id': listed.headers.get('x-request-id'),
      'http.response.status_code': 200,
    })

    // A path no route takes: named by its method alone (span names stay few).
    const lost = upstream()
    const missing = await node.root.request('GET', '/rest/v1/no/such/route', undefined, { traceparent: lost.traceparent })
    assert.equal(missing.status, 404)
    const unrouted = only(inTrace(await receiver.until((all) => inTrace(all, lost.traceId).length > 0), lost.traceId), 'GET')
    assert.equal(unrouted.attributes['http.route'], undefined)
    assert.equal(unrouted.attributes['http.response.status_code'], 404)

    const reader = await channelWith(
      node.root,
      'reader',
      {
        recv: "const answer = await api.request('GET', '/rest/v1/service/svcscripts?filter=%7B%7D&limit=1')\nreturn { status: answer.status }",
      },
      {},
      { roles: ['admin'] },
    )
    const sender = upstream()
    const answer = await post(node, reader.token, {}, { traceparent: sender.traceparent })
    assert.equal(answer.text, '{"status":200}')
    const trace = inTrace(await receiver.until((all) => inTrace(all, sender.traceId).length >= 3), sender.traceId)
    const run = only(trace, 'script reader-recv')
    const inProcess = only(trace, 'GET /rest/v1/service/svcscripts')
    assert.equal(inProcess.kind, SERVER)
    assert.equal(inProcess.parentSpanId, run.spanId)
    assert.equal(inProcess.attributes['switchboard.in_process'], true)
    assert.equal(inProcess.attributes['url.path'], '/rest/v1/service/svcscripts')
    assert.equal(inProcess.attributes['http.response.status_code'], 200)
    // No query string, token or key in any span.
    const exported = JSON.stringify(receiver.spans)
    for (const secret of ['secret-code', 'filter', reader.token, ROOT_KEY]) assert.equal(exported.includes(secret), false, secret)
  })

  it('exports OTLP protobuf by default', async (t) => {
    const receiver = await startOtlpReceiver(t)
    const shop = await downstream(t)
    const node = await tracedNode(t, receiver, { OTEL_EXPORTER_OTLP_PROTOCOL: '' })
    const orders = await channelWith(node.root, 'orders', { recv: "await http.request({ url: 'stock' })" }, { url: shop.url })
    const caller = upstream()
    assert.equal((await post(node, orders.token, {}, { traceparent: caller.traceparent })).status, 200)
    const spans = inTrace(await receiver.until((all) => inTrace(all, caller.traceId).length >= 3), caller.traceId)
    const server = only(spans, 'POST /exec/*')
    const run = only(spans, 'script orders-recv')
    const get = only(spans, 'GET')
    assert.deepEqual([server.parentSpanId, run.parentSpanId, get.parentSpanId], [caller.spanId, server.spanId, run.spanId])
    assert.equal(get.attributes['url.full'], `${shop.url}/stock`)
    assert.equal(server.resource['service.name'], 'switchboard-under-test')
    assert.deepEqual(
      new Set(receiver.requests.map(({ path, contentType }) => `${path} ${contentType}`)),
      new Set(['/v1/traces application/x-protobuf']),
    )
  })

  it('without an OTLP endpoint exports nothing, adds no trace header and records no trace id', async (t) => {
    // The SDK's default endpoint: a server that exported there would be caught.
    let defaultEndpoint: OtlpReceiver | undefined
    try {
      defaultEndpoint = await startOtlpReceiver(t, { port: 4318 })
    } catch (error) {
      t.diagnostic(`127.0.0.1:4318 is taken (${error}): not watched`)
    }
    const shop = await downstream(t)
    const node = await startNode(t, {
      workers: 1,
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: '',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '',
        OTEL_BSP_SCHEDULE_DELAY: '50',
        SWITCHBOARD_EGRESS_ALLOW: '127.0.0.1/32',
      },
    })
    const orders = await channelWith(node.root, 'orders', { recv: "await http.request({ url: 'stock' })" }, { url: shop.url })
    const caller = upstream()
    const answer = await post(node, orders.token, {}, { traceparent: caller.traceparent, tracestate: 'upstream=1' })
    assert.equal(answer.status, 200, answer.text)
    // W3C Trace Context asks intermediaries to pass the context on; with tracing off the server
    // adds nothing at all (no work on the hot path): the call carries only the request id.
    assert.deepEqual(traceHeaders(shop.requests.at(-1)), { traceparent: undefined, tracestate: undefined })
    assert.match(String(shop.requests.at(-1)?.headers['x-request-id']), /./)
    const executionId = answer.headers.get('switchboard-execution-id') as string
    const [record] = await recordedExecutions(node.root, { id: executionId }, 1)
    assert.equal(record?.status, 'ok')
    assert.equal('trace_id' in (record ?? {}), false)
    // Were tracing on, its spans would have been sent within the 50 ms batch delay: wait ten of them.
    await new Promise((resolve) => setTimeout(resolve, 500))
    assert.deepEqual(defaultEndpoint?.requests ?? [], [])
    assert.doesNotMatch(node.output(), /spans could not be exported/)
  })
})
