import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { assertError } from './support/assertions.ts'
import { CHANNELS, type Client, json, jsonArray, SCRIPTS, startServer } from './support/server.ts'

const EXECUTIONS = '/rest/v1/service/executions'

/** A channel whose webhook script is `source`; answers its id and token. */
async function channelWith(
  root: Client,
  code: string,
  source: string,
  extra: Record<string, unknown> = {},
): Promise<{ id: string; token: string }> {
  const script = await root.post(SCRIPTS, { code: `${code}-script`, source })
  assert.equal(script.status, 200, script.text)
  const channel = await root.post(CHANNELS, {
    code,
    type: 'public',
    recv_svcscriptcode: `${code}-script`,
    opts: { issync: true },
    ...extra,
  })
  assert.equal(channel.status, 200, channel.text)
  const created = json(channel)
  return { id: created.id as string, token: created.token_local as string }
}

interface Answer {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  readonly body: unknown
}

async function call(url: string, path: string, init: RequestInit = {}): Promise<Answer> {
  const response = await fetch(url + path, init)
  const bytes = Buffer.from(await response.arrayBuffer())
  const text = bytes.toString('utf8')
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    body = undefined
  }
  return { status: response.status, headers: response.headers, text, body }
}

/** Waits until `count` execution records are stored (they are written in batches). */
async function executions(root: Client, count: number): Promise<Record<string, unknown>[]> {
  for (let i = 0; ; i++) {
    const all = jsonArray(await root.get(`${EXECUTIONS}?limit=1000`))
    if (all.length >= count || i === 100) return all
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

function assertWebhookError(answer: Answer, status: number, message?: RegExp): void {
  assert.equal(answer.status, status, answer.text)
  const body = answer.body as { error_code: number; error_message: string }
  assert.equal(body.error_code, 1000 + status)
  if (message) assert.match(body.error_message, message)
}

const ECHO = `vars.params = [1, 2, 3, 4, 5, 6, 7].map((n) => startparam(n))
vars.request = request
return 'ok'`

describe('webhooks (SPEC §5)', () => {
  it('opens a channel by Bearer token or by path, with start parameters 1–7 and the request', async (t) => {
    const { root, url } = await startServer(t)
    const { id, token } = await channelWith(root, 'echo', ECHO)
    for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
      const answer = await call(url, `/exec/${token}/orders/7?x=1&x=2&y=z`, {
        method,
        headers: { 'x-custom': 'yes', ...(method !== 'GET' && method !== 'OPTIONS' && { 'content-type': 'application/json' }) },
        ...(method !== 'GET' && method !== 'OPTIONS' && { body: '{"n":1}' }),
      })
      assert.equal(answer.status, 200, `${method}: ${answer.text}`)
      assert.equal(answer.text, 'ok')
      assert.match(answer.headers.get('content-type') ?? '', /^text\/plain; charset=utf-8/)
    }
    const byHeader = await call(url, '/exec/orders?q=1', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{"order":7}',
    })
    assert.equal(byHeader.status, 200, byHeader.text)

    const [last, path] = await executions(root, 7)
    assert.equal(last?.trigger, 'http')
    assert.equal(last?.channel_id, id)
    const variables = last?.output as { params: unknown[]; request: Record<string, unknown> }
    const [channel, method, requestUrl, body, headers, ip, protocol] = variables.params as [
      Record<string, unknown>,
      string,
      string,
      unknown,
      Record<string, string>,
      string,
      string,
    ]
    assert.equal(channel.id, id)
    assert.equal(channel.token_local, undefined, 'the script never sees the token')
    assert.deepEqual(
      [method, requestUrl, body, ip, protocol],
      ['POST', '/exec/orders?q=1', { order: 7 }, '127.0.0.1', 'HTTP/1.1'],
    )
    assert.equal(headers.authorization, 'Bearer ~')
    assert.equal(headers['content-type'], 'application/json')
    assert.deepEqual(variables.request, {
      method: 'POST',
      path: '/orders',
      query: { q: '1' },
      headers,
      body: { order: 7 },
      rawBody: Buffer.from('{"order":7}').toString('base64'),
      ip: '127.0.0.1',
      protocol: 'HTTP/1.1',
    })
    const byPath = (path?.output as { params: unknown[]; request: Record<string, unknown> }) ?? {}
    assert.equal(byPath.params[2], '/exec/~/orders/7?x=1&x=2&y=z', 'the token is replaced by ~')
    assert.deepEqual(byPath.request.query, { x: ['1', '2'], y: 'z' })
    assert.equal(byPath.request.path, '/orders/7')
    assert.ok(!JSON.stringify(await executions(root, 7)).includes(token), 'no record holds the token')
  })

  it('reads bodies by content type and refuses malformed and oversized ones before any script runs', async (t) => {
    const { root, url } = await startServer(t, { config: { webhookBodyLimit: 4096 } })
    const { token } = await channelWith(root, 'bodies', 'return [typeof startparam(4), startparam(4)]')
    const send = (body: string | Uint8Array, type?: string) =>
      call(url, `/exec/${token}`, { method: 'POST', body, ...(type !== undefined && { headers: { 'content-type': type } }) })
    assert.deepEqual((await send('{"a":[1,2]}', 'application/json')).body, ['object', { a: [1, 2] }])
    assert.deepEqual((await send('a=1&b=%C3%A9&a=2', 'application/x-www-form-urlencoded')).body, [
      'object',
      { a: ['1', '2'], b: 'é' },
    ])
    assert.deepEqual((await send('hello', 'text/plain; charset=utf-8')).body, ['string', 'hello'])
    assert.deepEqual((await send(new Uint8Array([0, 1, 254, 255]), 'application/octet-stream')).body, ['string', 'AAH+/w=='])
    assert.deepEqual((await call(url, `/exec/${token}`)).body, ['object', null], 'no body: null')
    const before = (await executions(root, 5)).length
    assertWebhookError(await send('{"a":', 'application/json'), 400, /not valid JSON/)
    assertWebhookError(await send('x'.repeat(5000), 'text/plain'), 413)
    await new Promise((resolve) => setTimeout(resolve, 150))
    assert.equal(jsonArray(await root.get(EXECUTIONS)).length, before, 'refused requests run no script')
  })

  it('answers hostile requests with a clear error, and keeps serving', async (t) => {
    const { root, url } = await startServer(t)
    const { token } = await channelWith(root, 'sturdy', 'return typeof startparam(4)')
    assertWebhookError(await call(url, `/exec/${token}/%zz`), 400, /malformed/)
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`
    const nested = await call(url, `/exec/${token}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: deep,
    })
    assertWebhookError(nested, 400, /nests arrays and objects more than 512 deep/)
    const proto = await call(url, `/exec/${token}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}',
    })
    assert.equal(proto.text, 'object')
    assert.equal(({} as Record<string, unknown>).polluted, undefined)
    const form = await call(url, `/exec/${token}`, {
      method: 'POST',
      body: '__proto__[x]=1&constructor=2',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
    assert.equal(form.text, 'object')
    assert.equal((await call(url, `/exec/${token}`)).text, 'object', 'still serving')
  })

  it('refuses missing and unknown tokens, and a rotated or deleted one at once', async (t) => {
    const { root, url } = await startServer(t)
    const { id, token } = await channelWith(root, 'guarded', 'return 1')
    assertWebhookError(await call(url, '/exec'), 401, /token/)
    assertWebhookError(await call(url, '/exec/'), 401)
    assertWebhookError(await call(url, '/exec', { headers: { authorization: 'Bearer nope' } }), 404, /no channel/)
    assertWebhookError(await call(url, `/exec/${token.slice(0, -1)}x`), 404)
    assertWebhookError(await call(url, `/exec/${token}`, { headers: { authorization: 'Bearer wrong-token-here' } }), 404)
    assert.equal((await call(url, `/exec/${token}`)).status, 200)
    const rotated = json(await root.patch(`${CHANNELS}/${id}`, { token_local: null }))
    assertWebhookError(await call(url, `/exec/${token}`), 404)
    assert.equal((await call(url, `/exec/${String(rotated.token_local)}`)).status, 200)
    await root.delete(`${CHANNELS}/${id}`)
    assertWebhookError(await call(url, `/exec/${String(rotated.token_local)}`), 404)

    const bare = json(await root.post(CHANNELS, { code: 'no-script', type: 'public', opts: { issync: true } }))
    assertWebhookError(await call(url, `/exec/${String(bare.token_local)}`), 404, /recv_svcscriptcode/)
  })

  it('checks ipmask against the sender, believing X-Forwarded-For only from trusted proxies', async (t) => {
    const { root, url } = await startServer(t, { env: { SWITCHBOARD_TRUST_PROXY: '127.0.0.1' } })
    const { token: open } = await channelWith(root, 'open', 'return startparam(6)')
    const { token: office } = await channelWith(root, 'office', 'return startparam(6)', {
      ipmask: ['203.0.113.0/24', '2001:db8::/32'],
    })
    const { token: local } = await channelWith(root, 'local', 'return startparam(6)', { ipmask: ['::ffff:127.0.0.1'] })
    const from = (token: string, forwarded?: string) =>
      call(url, `/exec/${token}`, forwarded === undefined ? {} : { headers: { 'x-forwarded-for': forwarded } })
    assert.equal((await from(open)).text, '127.0.0.1')
    assertWebhookError(await from(office), 403, /127\.0\.0\.1 is not allowed/)
    assert.equal((await from(office, '203.0.113.5')).text, '203.0.113.5')
    assert.equal((await from(office, '198.51.100.1, 203.0.113.5')).text, '203.0.113.5')
    assert.equal((await from(office, '2001:db8::9')).text, '2001:db8::9')
    assertWebhookError(await from(office, '198.51.100.1'), 403)
    assert.equal((await from(local)).text, '127.0.0.1', 'an IPv4-mapped mask matches the IPv4 sender')
  })

  it('does not believe X-Forwarded-For from an untrusted peer', async (t) => {
    const { root, url } = await startServer(t)
    const { token } = await channelWith(root, 'office', 'return startparam(6)', { ipmask: ['203.0.113.0/24'] })
    assertWebhookError(await call(url, `/exec/${token}`, { headers: { 'x-forwarded-for': '203.0.113.5' } }), 403)
  })

  it('sends every answer with CSP sandbox and nosniff, which a script cannot change', async (t) => {
    const { root, url } = await startServer(t)
    const { token } = await channelWith(
      root,
      'page',
      `vars.headers = { 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': "script-src 'unsafe-inline'",
        'X-Content-Type-Options': 'none', 'Service-Worker-Allowed': '/' }
      return '<script>document.title = sessionStorage.getItem("switchboard.key")</script>'`,
    )
    const { token: later } = await channelWith(root, 'later', 'return 1', { opts: { issync: false } })
    const answers = {
      html: await call(url, `/exec/${token}`),
      async: await call(url, `/exec/${later}`, { method: 'POST' }),
      'unknown token': await call(url, '/exec/0123456789abcdef0123456789abcdef'),
      'no token': await call(url, '/exec'),
    }
    assert.equal(answers.html.text, '<script>document.title = sessionStorage.getItem("switchboard.key")</script>')
    assert.equal(answers.html.headers.get('content-type'), 'text/html; charset=utf-8')
    assert.equal(answers.html.headers.get('service-worker-allowed'), null)
    assert.match(String((answers.async.body as Record<string, unknown>).execution_id), /^[0-9a-f-]{36}$/)
    assert.equal(answers['unknown token'].status, 404)
    for (const [name, answer] of Object.entries(answers)) {
      assert.equal(answer.headers.get('content-security-policy'), 'sandbox', name)
      assert.equal(answer.headers.get('x-content-type-options'), 'nosniff', name)
    }
  })

  it('answers from status, headers and result; filters headers a script may not set', async (t) => {
    const { root, url } = await startServer(t)
    const { token: json201 } = await channelWith(
      root,
      'created',
      `vars.status = 201
      vars.headers = { 'X-Order': 7, 'Content-Type': 'application/vnd.shop+json', 'Set-Cookie': 'a=b',
        'Transfer-Encoding': 'chunked', 'Access-Control-Allow-Origin': '*', 'Strict-Transport-Security': 'max-age=1',
        'X-Bad': 'a\\r\\nInjected: 1', Connection: 'close', 'Switchboard-Execution-Id': 'forged' }
      return { ok: true }`,
    )
    const created = await call(url, `/exec/${json201}`)
    assert.equal(created.status, 201)
    assert.deepEqual(created.body, { ok: true })
    assert.equal(created.headers.get('x-order'), '7')
    assert.match(created.headers.get('content-type') ?? '', /^application\/vnd\.shop\+json/)
    for (const name of ['set-cookie', 'access-control-allow-origin', 'strict-transport-security', 'x-bad', 'injected']) {
      assert.equal(created.headers.get(name), null, name)
    }
    assert.notEqual(created.headers.get('connection'), 'close')
    // The answer names its execution (a script cannot forge it).
    const executionId = created.headers.get('switchboard-execution-id') ?? ''
    assert.match(executionId, /^[0-9a-f-]{36}$/)
    assert.equal((await executions(root, 1)).find((execution) => execution.id === executionId)?.status, 'ok')

    const { token: bytes } = await channelWith(root, 'bytes', 'return new Uint8Array([1, 2, 255])')
    const binary = await fetch(`${url}/exec/${bytes}`)
    assert.equal(binary.headers.get('content-type'), 'application/octet-stream')
    assert.deepEqual([...new Uint8Array(await binary.arrayBuffer())], [1, 2, 255])

    const { token: array } = await channelWith(root, 'array', 'return [1, "two"]')
    const listed = await call(url, `/exec/${array}`)
    assert.deepEqual(listed.body, [1, 'two'])
    assert.match(listed.headers.get('content-type') ?? '', /^application\/json/)

    const { token: empty } = await channelWith(root, 'empty', 'vars.status = 204')
    const none = await call(url, `/exec/${empty}`)
    assert.equal(none.status, 204)
    assert.equal(none.text, '')

    const { token: badStatus } = await channelWith(root, 'bad-status', 'vars.status = 99')
    assertWebhookError(await call(url, `/exec/${badStatus}`), 500, /vars\.status must be an integer/)
  })

  it('answers script errors with 1500 and timeouts with 1504, naming only the execution', async (t) => {
    const { root, url } = await startServer(t)
    const { token: failing } = await channelWith(root, 'failing', 'throw new Error("secret detail")')
    const failed = await call(url, `/exec/${failing}`)
    assertWebhookError(failed, 500, /^script failed \(execution [0-9a-f-]{36}\)$/)
    assert.ok(!failed.text.includes('secret detail'))
    const executionId = /execution ([0-9a-f-]{36})/.exec(failed.text)?.[1]
    const record = (await executions(root, 1)).find((execution) => execution.id === executionId) ?? {}
    assert.equal((record.error as { message: string }).message, 'secret detail')

    const { token: slow } = await channelWith(root, 'slow', 'await sleep(20000)', { opts: { issync: true, recv_timeout: 1 } })
    const started = performance.now()
    assertWebhookError(await call(url, `/exec/${slow}`), 504, /execution [0-9a-f-]{36}/)
    const elapsed = performance.now() - started
    // Not before the 1 s recv_timeout, and long before the script would have ended by itself.
    assert.ok(elapsed > 950 && elapsed < 20_000, `timed out after ${elapsed} ms`)
  })

  it('fails an execution whose variables do not serialise to an object, and names it (issue 15, item 5)', async (t) => {
    const { root, url } = await startServer(t)
    const cases: [string, string, string][] = [
      ['to-string', 'Object.prototype.toJSON = () => "x"\nreturn 1', 'a string'],
      ['to-nothing', 'Object.prototype.toJSON = () => undefined\nreturn 1', 'nothing'],
      ['to-array', 'await sleep(1)\nObject.prototype.toJSON = () => [1]\nreturn 1', 'an array'],
      ['to-number', 'Object.prototype.toJSON = function () { return this === vars ? 7 : this }\nreturn 1', 'the value 7'],
    ]
    for (const [index, [code, source, became]] of cases.entries()) {
      const { token } = await channelWith(root, code, source)
      const answer = await call(url, `/exec/${token}`)
      assertWebhookError(answer, 500, /^script failed \(execution [0-9a-f-]{36}\)$/)
      const executionId = answer.headers.get('switchboard-execution-id')
      assert.equal((answer.body as { error_message: string }).error_message, `script failed (execution ${executionId})`)
      const record = (await executions(root, index + 1)).find((execution) => execution.id === executionId)
      assert.equal(record?.status, 'error', code)
      assert.deepEqual(record?.error, {
        message: `the variables must serialise to a JSON object, not ${became} (does the script replace toJSON?)`,
      })
    }
  })

  it('bounds sync webhooks in flight per channel, leaving other channels alone', async (t) => {
    const { root, url } = await startServer(t, { config: { webhookConcurrency: 2 } })
    const { token: busy } = await channelWith(root, 'busy', 'await sleep(300)\nreturn 1')
    const { token: calm } = await channelWith(root, 'calm', 'return 2')
    const flood = Promise.all([1, 2, 3].map(() => call(url, `/exec/${busy}`)))
    await new Promise((resolve) => setTimeout(resolve, 100))
    assert.equal((await call(url, `/exec/${calm}`)).text, '2', 'another channel is served meanwhile')
    const answers = await flood
    assert.deepEqual(answers.map((answer) => answer.status).sort(), [200, 200, 429])
    const refused = answers.find((answer) => answer.status === 429) as Answer
    assertWebhookError(refused, 429, /too many webhooks in flight/)
    assert.equal(refused.headers.get('retry-after'), '1')
  })

  it('replays an execution through the current script, pointing to the original', async (t) => {
    const { root, url } = await startServer(t, { config: { webhookBodyLimit: 1 << 20 } })
    const { token } = await channelWith(root, 'orders', 'return ["v1", startparam(4).n, request?.path ?? null]')
    assert.deepEqual(
      (
        await call(url, `/exec/${token}/a?x=1`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"n":5}',
        })
      ).body,
      ['v1', 5, '/a'],
    )
    const [original] = await executions(root, 1)
    const script = json(await root.post(`${SCRIPTS}/lookup`, { code: 'orders-script' }))
    await root.patch(`${SCRIPTS}/${String(script.id)}`, { source: 'return ["v2", startparam(4).n, request?.path ?? null]' })
    const replayed = await root.post(`${EXECUTIONS}/${String(original?.id)}/replay`)
    assert.equal(replayed.status, 200, replayed.text)
    const again = json(replayed)
    assert.equal(again.trigger, 'replay')
    assert.equal(again.replay_of, original?.id)
    assert.equal(again.status, 'ok')
    assert.deepEqual(again.output, { result: ['v2', 5, '/a'] })
    assert.notEqual(again.id, original?.id)

    // A test run replays through the script it ran.
    const tried = json(await root.post(`${SCRIPTS}/${String(script.id)}/run`, { startparams: [null, 'GET', '/', { n: 9 }] }))
    const rerun = json(await root.post(`${EXECUTIONS}/${String(tried.execution_id)}/replay`))
    assert.deepEqual([rerun.trigger, rerun.replay_of, rerun.output], ['replay', tried.execution_id, { result: ['v2', 9, null] }])

    // An input too large to keep whole cannot be replayed.
    const big = await call(url, `/exec/${token}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ n: 1, pad: 'x'.repeat(100_000) }),
    })
    assert.equal(big.status, 200)
    const [large] = await executions(root, 5)
    assertError(await root.post(`${EXECUTIONS}/${String(large?.id)}/replay`), 409, /too large/)
    assertError(await root.post(`${EXECUTIONS}/3f2b8c1e-7d4a-4c6b-9e1f-2a3b4c5d6e7f/replay`), 404)
    assertError(await root.post(`${EXECUTIONS}/not-a-uuid/replay`), 400, /UUID/)
    assertWebhookError(await call(url, `${EXECUTIONS}/${String(original?.id)}/replay`, { method: 'POST' }), 401)
  })
})
