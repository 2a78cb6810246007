import assert from 'node:assert/strict'
import { type AddressInfo, connect, createServer, type Socket } from 'node:net'
import { describe, it } from 'node:test'
import { assertError } from './support/assertions.ts'
import { TEST_DATABASE_URL } from './support/postgres.ts'
import { CHANNELS, httpClient, json, SCRIPTS, startServer } from './support/server.ts'

describe('HTTP edge', () => {
  it('answers every framework error in the JSON error shape', async (t) => {
    const { root, url } = await startServer(t)
    assertError(await root.request('POST', SCRIPTS, '{"code": "a",'), 400, /not valid JSON/)
    assertError(await root.request('POST', SCRIPTS, '   ', { 'content-type': 'application/json' }), 400, /empty/)
    assertError(await root.request('POST', SCRIPTS, '', { 'content-type': 'application/json' }), 400, /empty/)
    assertError(
      await root.request('POST', SCRIPTS, 'code=a', { 'content-type': 'application/x-www-form-urlencoded' }),
      415,
      /application\/json/,
    )
    assertError(await root.request('POST', SCRIPTS, '{"__proto__": {"x": 1}, "code": "a"}'), 400, /forbidden key/)
    assertError(
      await root.request('POST', SCRIPTS, '{"code": "a", "ext": {"constructor": {"prototype": {"x": 1}}}}'),
      400,
      /forbidden key/,
    )
    assertError(await root.get('/no/such/route'), 404, /no route GET \/no\/such\/route/)
    assertError(await root.request('PUT', SCRIPTS, { code: 'a' }), 404, /no route PUT/)
    const anonymous = httpClient(url)
    for (const path of ['/exec/secret-token-in-path', '/ws/token/v1/secret-token-in-path']) {
      const unknownToken = await anonymous.get(path)
      assertError(unknownToken, 404, /no channel has this token/)
      assert.ok(!unknownToken.text.includes('secret-token'), 'the answer does not echo the token')
    }
    assertError(await root.get(`${SCRIPTS}/%zz`), 400, /malformed/)
  })

  it('answers malformed HTTP on the socket in the JSON error shape', async (t) => {
    const { url } = await startServer(t)
    const { port } = new URL(url)
    /** What the server answers to `bytes` sent on a fresh connection, until it closes it. */
    const exchange = (bytes: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1', () => socket.write(bytes))
        let data = ''
        socket.on('data', (chunk) => {
          data += chunk.toString()
        })
        socket.on('close', () => resolve(data))
        socket.on('error', reject)
      })
    /** The last answer's status line and JSON body. */
    const last = (answer: string): [string, unknown] => {
      const start = answer.lastIndexOf('HTTP/1.1 ')
      const rest = answer.slice(start)
      assert.match(rest, /Content-Type: application\/json/)
      return [rest.slice(0, rest.indexOf('\r\n')), JSON.parse(rest.slice(rest.indexOf('\r\n\r\n') + 4))]
    }
    assert.deepEqual(last(await exchange('GARBAGE / HTTP/9\r\n\r\n')), [
      'HTTP/1.1 400 Bad Request',
      { error_code: 1400, error_message: 'the request is not valid HTTP' },
    ])

    // Era's LOOKUP verb: the answer points to the POST form (also when it follows another request in the same bytes).
    const refusedLookup = (post: string): [string, unknown] => [
      'HTTP/1.1 400 Bad Request',
      {
        error_code: 1400,
        error_message: `the LOOKUP verb is not accepted (Node's HTTP parser refuses unknown verbs): send POST ${post} with one unique key in a JSON body, e.g. {"code": "…"}`,
      },
    ]
    assert.deepEqual(
      last(await exchange(`LOOKUP ${CHANNELS} HTTP/1.1\r\nHost: x\r\nContent-Length: 15\r\n\r\n{"code":"shop"}`)),
      refusedLookup(`${CHANNELS}/lookup`),
    )
    const pipelined = await exchange(
      `GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nLOOKUP ${SCRIPTS}/?x=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}`,
    )
    assert.deepEqual(last(pipelined), refusedLookup(`${SCRIPTS}/lookup`))
    assert.deepEqual(last(await exchange('LOOKUP /elsewhere HTTP/1.1\r\nHost: x\r\n\r\n')), refusedLookup('<collection>/lookup'))
  })

  it('refuses bodies over the limit with 1413 and stores nothing', async (t) => {
    const { root } = await startServer(t, { config: { restBodyLimit: 64 * 1024 } })
    const big = { code: 'big', source: 'x'.repeat(70 * 1024) }
    assertError(await root.post(SCRIPTS, big), 413, /larger than/)
    const list = await root.get(SCRIPTS)
    assert.equal(list.headers.get('x-total-count'), '0')
  })

  it('serves liveness and readiness', async (t) => {
    const { url } = await startServer(t)
    const client = httpClient(url)
    assert.deepEqual(json(await client.get('/healthz')), { status: 'ok' })
    assert.deepEqual(json(await client.get('/readyz')), { status: 'ready' })
  })

  it('reports not ready, in the error shape, while the database does not answer', async (t) => {
    // PostgreSQL behind a TCP relay that the test can cut, as a network failure would.
    const target = new URL(TEST_DATABASE_URL)
    const sockets = new Set<Socket>()
    const relay = createServer((client) => {
      const upstream = connect(Number(target.port || 5432), target.hostname)
      for (const socket of [client, upstream]) {
        sockets.add(socket)
        socket.on('error', () => socket.destroy())
        socket.on('close', () => sockets.delete(socket))
      }
      client.pipe(upstream).pipe(client)
    })
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve))
    t.after(() => relay.close())
    const relayUrl = new URL(TEST_DATABASE_URL)
    relayUrl.port = String((relay.address() as AddressInfo).port)
    const { url } = await startServer(t, { backend: 'postgres', config: { databaseUrl: relayUrl.toString() } })
    const client = httpClient(url)
    assert.deepEqual(json(await client.get('/readyz')), { status: 'ready' })

    relay.close()
    for (const socket of sockets) socket.destroy()
    assertError(await client.get('/readyz'), 503, /not ready/)
    assert.deepEqual(json(await client.get('/healthz')), { status: 'ok' })
  })

  it('serves an OpenAPI 3.1 document covering every collection, built from the request schemas', async (t) => {
    const { url } = await startServer(t)
    const doc = json(await httpClient(url).get('/rest/v1/openapi.json'))
    assert.equal(doc.openapi, '3.1.0')
    const paths = doc.paths as Record<string, Record<string, { requestBody?: unknown; responses: Record<string, unknown> }>>
    for (const path of [
      CHANNELS,
      `${CHANNELS}/{id}`,
      `${CHANNELS}/lookup`,
      SCRIPTS,
      '/rest/v1/iam/users',
      '/rest/v1/iam/api_keys',
      '/rest/v1/master/domains',
      '/rest/v1/master/channel_types',
      '/rest/v1/service/license',
      '/rest/v1/service/integration_tokens/{token}',
      '/healthz',
      '/readyz',
      '/metrics',
    ]) {
      assert.ok(paths[path], `OpenAPI lacks ${path}`)
    }
    const create = paths[CHANNELS]?.post
    assert.ok(create?.requestBody, 'create documents its body')
    assert.ok(create?.responses['200'] && create.responses['409'])
    // Optimistic concurrency (SPEC §2): ETag on reads and writes, If-Match and 412 on PATCH/DELETE.
    type Operation = {
      parameters?: { in: string; name: string }[]
      responses: Record<string, { headers?: Record<string, unknown> }>
    }
    const item = paths[`${CHANNELS}/{id}`] as unknown as Record<string, Operation>
    for (const method of ['get', 'patch', 'delete']) {
      assert.ok(item[method]?.responses['200']?.headers?.etag, `${method} documents its ETag`)
    }
    const created = paths[CHANNELS]?.post as unknown as Operation | undefined
    assert.ok(created?.responses['200']?.headers?.etag, 'create documents its ETag')
    for (const method of ['patch', 'delete']) {
      const operation = item[method]
      assert.ok(
        operation?.parameters?.some((parameter) => parameter.in === 'header' && parameter.name === 'if-match'),
        `${method} documents If-Match`,
      )
      assert.ok(operation?.responses['412'], `${method} documents 412`)
    }
    const text = JSON.stringify(doc)
    assert.match(text, /recv_timeout/)
    assert.match(text, /filter_capabilities/)
    assert.match(text, /request_id/, 'execution records name the request that caused them')
    const metrics = (
      paths['/metrics'] as unknown as { get: { security: unknown; responses: Record<string, { content: object }> } }
    ).get
    assert.deepEqual(metrics.security, [{ metricsToken: [] }])
    assert.deepEqual(Object.keys(metrics.responses['200']?.content ?? {}), ['text/plain; version=0.0.4; charset=utf-8'])
  })
})
