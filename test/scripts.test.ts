import assert from 'node:assert/strict'
import { createHash, createHmac } from 'node:crypto'
import { describe, it } from 'node:test'
import { Execution } from '../src/executions/execution-schemas.ts'
import { assertError, assertMatchesSchema } from './support/assertions.ts'
import { rawRequest } from './support/raw-http.ts'
import { runScript, saveScript } from './support/scripts.ts'
import { CHANNEL_TYPES, CHANNELS, json, jsonArray, SCRIPTS, startServer } from './support/server.ts'
import { startStub } from './support/stub-server.ts'

const EXECUTIONS = '/rest/v1/service/executions'

describe('service scripts (SPEC §4)', () => {
  it('refuses a source that does not compile, with its line and column', async (t) => {
    const { root } = await startServer(t)
    assertError(
      await root.post(SCRIPTS, { code: 'a', source: 'const ok = 1\nconst x = ;' }),
      400,
      /line 2, column 11: Unexpected token ';'/,
      'source',
    )
    assertError(
      await root.post(SCRIPTS, { code: 'b', lang: 'ts', source: 'let a = 1\nconst x: number = ;' }),
      400,
      /line 2, column 19: Expression expected/,
      'source',
    )
    assertError(
      await root.post(SCRIPTS, { code: 'c', lang: 'ts', source: 'enum E { A }\nreturn E.A' }),
      400,
      /enum is not supported/,
      'source',
    )
    assertError(await root.post(SCRIPTS, { code: 'd', source: 'return 1\n}\n{' }), 400, /line 3, column 1/, 'source')
    const saved = json(await root.post(SCRIPTS, { code: 'e', source: 'return 1' }))
    assertError(await root.patch(`${SCRIPTS}/${String(saved.id)}`, { source: 'return (' }), 400, /does not compile/)
    assertError(
      await root.patch(`${SCRIPTS}/${String(saved.id)}`, { lang: 'ts', source: 'const x: = 1' }),
      400,
      /does not compile/,
    )
    assert.equal(json(await root.get(`${SCRIPTS}/${String(saved.id)}`)).source, 'return 1')
  })

  it('gives scripts startparam, vars, return, log and records the execution', async (t) => {
    const { root } = await startServer(t)
    const id = await saveScript(
      root,
      'shape',
      `log.debug('not kept at loglevel info')
      log.info('order', startparam(1).id, { lines: startparam(1).lines.length })
      log.warn('careful'); log.error(new Error('boom').message)
      vars.count = startparam(1).lines.length
      vars.missing = startparam(3) === undefined && startparam(0) === undefined && startparam('1') === undefined
      vars.request = request
      vars.channel = channel
      return startparam(1).lines.map((line) => line.qty * startparam(2))`,
    )
    const answer = await runScript(root, id, { startparams: [{ id: 7, lines: [{ qty: 1 }, { qty: 3 }] }, 10] })
    assert.equal(answer.status, 'ok', JSON.stringify(answer.error))
    assert.deepEqual(answer.variables, { count: 2, missing: true, request: null, channel: null, result: [10, 30] })
    assert.deepEqual(
      answer.logs.map(({ level, text }) => [level, text]),
      [
        ['info', 'order 7 {"lines":2}'],
        ['warn', 'careful'],
        ['error', 'boom'],
      ],
    )
    assert.equal(answer.error, null)
    assert.ok(answer.duration_ms > 0)

    const record = json(await root.get(`${EXECUTIONS}/${answer.execution_id}`))
    assertMatchesSchema(Execution, record)
    assert.deepEqual(
      { ...record, started_at: undefined, duration_ms: undefined, logs: undefined },
      {
        id: answer.execution_id,
        channel_id: null,
        script_code: 'shape',
        trigger: 'svcscript',
        status: 'ok',
        started_at: undefined,
        duration_ms: undefined,
        input: { startparams: [{ id: 7, lines: [{ qty: 1 }, { qty: 3 }] }, 10], request: null },
        output: { count: 2, missing: true, request: null, channel: null, result: [10, 30] },
        logs: undefined,
        error: null,
        replay_of: null,
        script_version: 1,
        // The run request's id, as its answer's X-Request-Id gave it.
        request_id: answer.requestId,
      },
    )
    assert.match(answer.requestId ?? '', /^[A-Za-z0-9_-]{11}\.[0-9a-z]+$/)
    assert.equal((record.logs as unknown[]).length, 3)
  })

  it('times each log line when the script writes it, in a worker and in a script host', async (t) => {
    for (const isolation of ['worker', 'process']) {
      const { root } = await startServer(t, { env: { SWITCHBOARD_SCRIPT_ISOLATION: isolation } })
      // Lines go to the host in batches (at the next host call, or at the end): each keeps its own time.
      const id = await saveScript(
        root,
        'timed',
        'log.info("first")\nconst end = Date.now() + 150\nwhile (Date.now() < end) {}\nlog.info("second")\nawait sleep(100)\nlog.warn("third")',
      )
      const answer = await runScript(root, id)
      assert.equal(answer.status, 'ok', JSON.stringify(answer))
      const [first, second, third] = answer.logs as { ms: number; text: string }[]
      assert.deepEqual([first?.text, second?.text, third?.text], ['first', 'second', 'third'])
      assert.ok((first?.ms ?? -1) >= 0 && (first?.ms ?? 99) < 50, `${isolation}: first at ${first?.ms} ms`)
      assert.ok((second?.ms ?? 0) - (first?.ms ?? 0) >= 140, `${isolation}: second at ${second?.ms} ms`)
      assert.ok((third?.ms ?? 0) - (second?.ms ?? 0) >= 90, `${isolation}: third at ${third?.ms} ms`)
      assert.ok((third?.ms ?? 0) <= answer.duration_ms, `${isolation}: third within the run (${answer.duration_ms} ms)`)
    }
  })

  it('reports errors with the line and column of the script, and TypeScript runs type-stripped', async (t) => {
    const { root } = await startServer(t)
    const failing = await saveScript(root, 'failing', 'const a = 1\n\n  null.boom()')
    const answer = await runScript(root, failing)
    assert.equal(answer.status, 'error')
    assert.match(answer.error?.message ?? '', /Cannot read properties of null/)
    assert.equal(answer.error?.line, 3)
    assert.equal(answer.error?.column, 8)
    const thrown = await saveScript(root, 'thrown', 'throw "plain string"')
    assert.deepEqual((await runScript(root, thrown)).error, { message: 'plain string' })
    const typed = await saveScript(
      root,
      'typed',
      'interface Line { qty: number }\nconst lines: Line[] = startparam(1)\nreturn lines.reduce((sum: number, l: Line) => sum + l.qty, 0) as number',
      { lang: 'ts' },
    )
    assert.equal((await runScript(root, typed, { startparams: [[{ qty: 2 }, { qty: 5 }]] })).variables.result, 7)
  })

  it('uses a saved change on the next run, and keeps a script’s globals between its runs', async (t) => {
    const { root, client, config } = await startServer(t)
    const id = await saveScript(root, 'counter', 'globalThis.n = (globalThis.n ?? 0) + 1\nreturn ["v1", globalThis.n]')
    assert.deepEqual((await runScript(root, id)).variables.result, ['v1', 1])
    assert.deepEqual((await runScript(root, id)).variables.result, ['v1', 2])
    await root.patch(`${SCRIPTS}/${id}`, { source: 'globalThis.n = (globalThis.n ?? 0) + 1\nreturn ["v2", globalThis.n]' })
    assert.deepEqual((await runScript(root, id)).variables.result, ['v2', 1], 'a new version starts with fresh globals')
    const other = await saveScript(root, 'other', 'return typeof globalThis.n')
    assert.equal((await runScript(root, other)).variables.result, 'undefined', 'scripts never share globals')
    // Not even two scripts with the same source, in one domain or two.
    const source = 'globalThis.n = (globalThis.n ?? 0) + 1\nreturn globalThis.n'
    const twin = await saveScript(root, 'twin-a', source)
    const sibling = await saveScript(root, 'twin-b', source)
    await root.post('/rest/v1/master/domains', { name: 'elsewhere' })
    const elsewhere = client(config.adminKey, { 'Switchboard-Domain': 'elsewhere' })
    const stranger = await saveScript(elsewhere, 'twin-a', source)
    assert.deepEqual(
      [
        await runScript(root, twin),
        await runScript(root, twin),
        await runScript(root, sibling),
        await runScript(elsewhere, stranger),
      ].map((answer) => answer.variables.result),
      [1, 2, 1, 1],
    )
  })

  it('computes hashes and HMACs as the platform does, and compares in constant time', async (t) => {
    const { root } = await startServer(t)
    const id = await saveScript(
      root,
      'crypto',
      `const bytes = new Uint8Array([0, 1, 2, 250])
      return {
        md5: crypto.hash('md5', 'abc'),
        sha1: crypto.hash('sha1', 'abc', 'base64'),
        sha512: crypto.hash('sha512', bytes, 'base64url'),
        hmac: crypto.hmac('sha256', 'key', 'message'),
        hmacBytes: crypto.hmac('sha256', bytes, bytes, 'base64'),
        uuid: /^[0-9a-f-]{36}$/.test(crypto.randomUUID()),
        same: crypto.timingSafeEqual('abc', 'abc'),
        differs: crypto.timingSafeEqual('abc', 'abd'),
        shorter: crypto.timingSafeEqual('abc', 'ab'),
      }`,
    )
    const bytes = Buffer.from([0, 1, 2, 250])
    assert.deepEqual((await runScript(root, id)).variables.result, {
      md5: createHash('md5').update('abc').digest('hex'),
      sha1: createHash('sha1').update('abc').digest('base64'),
      sha512: createHash('sha512').update(bytes).digest('base64url'),
      hmac: createHmac('sha256', 'key').update('message').digest('hex'),
      hmacBytes: createHmac('sha256', bytes).update(bytes).digest('base64'),
      uuid: true,
      same: true,
      differs: false,
      shorter: false,
    })
    const bad = await saveScript(root, 'bad-crypto', 'return crypto.hash("sha3", "x")')
    assert.match((await runScript(root, bad)).error?.message ?? '', /alg must be one of md5, sha1, sha256, sha512/)
  })

  it('returns bytes as bytes, sleeps, and times out at the given timeout', async (t) => {
    const { root } = await startServer(t)
    const bytes = await saveScript(
      root,
      'bytes',
      'const b = new Uint8Array(256)\nfor (let i = 0; i < 256; i++) b[i] = i\nreturn b',
    )
    const answer = await runScript(root, bytes)
    assert.deepEqual(
      Buffer.from((answer.variables.result as { $bytes: string }).$bytes, 'base64'),
      Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
    )
    const sleeper = await saveScript(root, 'sleeper', 'const t = Date.now()\nawait sleep(50)\nreturn Date.now() - t')
    assert.ok(((await runScript(root, sleeper)).variables.result as number) >= 45)
    const slow = await saveScript(root, 'slow', 'await sleep(5000)\nreturn 1')
    const started = performance.now()
    const timedOut = await runScript(root, slow, { timeout: 200 })
    assert.equal(timedOut.status, 'timeout')
    assert.deepEqual(timedOut.error, { message: 'the script did not finish within 200 ms' })
    assert.ok(performance.now() - started < 5000, 'answered at its timeout, not when the script would have ended')
  })

  it('bounds logs and refuses bad run requests', async (t) => {
    const { root } = await startServer(t)
    const chatty = await saveScript(
      root,
      'chatty',
      'for (let i = 0; i < 1000; i++) log.info("line " + i)\nlog.info("y".repeat(10000))',
    )
    const answer = await runScript(root, chatty)
    assert.equal(answer.logs.length, 501)
    assert.match(answer.logs[500]?.text ?? '', /501 more log line\(s\) were dropped/)
    const id = await saveScript(root, 'ok', 'return 1')
    assertError(
      await root.post(`${SCRIPTS}/${id}/run`, { startparams: Array.from({ length: 21 }, () => 1) }),
      400,
      undefined,
      'startparams',
    )
    assertError(await root.post(`${SCRIPTS}/${id}/run`, { timeout: 60001 }), 400, undefined, 'timeout')
    assertError(await root.post(`${SCRIPTS}/${id}/run`, { timeout: 0 }), 400, undefined, 'timeout')
    assertError(await root.post(`${SCRIPTS}/${id}/run`, { channel: 'nope' }), 400, /not a channel/, 'channel')
    assertError(await root.post(`${SCRIPTS}/${id}/run`, { extra: 1 }), 400, undefined, 'extra')
    assertError(await root.post(`${SCRIPTS}/3f2b8c1e-7d4a-4c6b-9e1f-2a3b4c5d6e7f/run`, {}), 404)
    assertError(await root.post(`${SCRIPTS}/not-a-uuid/run`, {}), 400)
  })

  it('keeps WebAssembly out of scripts unless the installation allows it (SPEC §13)', async (t) => {
    const source = 'const memory = new WebAssembly.Memory({ initial: 1 })\nreturn memory.buffer.byteLength'
    const off = await startServer(t)
    const answer = await runScript(off.root, await saveScript(off.root, 'wasm', source))
    assert.equal(answer.status, 'error')
    assert.equal(answer.error?.message, 'WebAssembly is not defined')
    const on = await startServer(t, { config: { scriptWasm: true } })
    assert.equal((await runScript(on.root, await saveScript(on.root, 'wasm', source))).variables.result, 65536)
  })

  it('runs a domain’s scripts in a script host of its own when the domain asks for process isolation', async (t) => {
    const { root, url } = await startServer(t)
    const hosts = async () => /^switchboard_script_hosts (\d+)$/m.exec(await (await fetch(`${url}/metrics`)).text())?.[1]
    const id = await saveScript(root, 'pid', 'return 7')
    assert.equal((await runScript(root, id)).variables.result, 7)
    assert.equal(await hosts(), '0', 'worker isolation: no host process')
    const [found] = (await root.get('/rest/v1/master/domains?filter=%7B%22name%22%3A%22default%22%7D')).body as { id: string }[]
    const patched = await root.patch(`/rest/v1/master/domains/${found?.id}`, { opts: { script_isolation: 'process' } })
    assert.equal(patched.status, 200, patched.text)
    assert.equal((json(patched).opts as Record<string, unknown>).script_isolation, 'process')
    assert.equal((await runScript(root, id)).variables.result, 7)
    assert.equal(await hosts(), '1', 'the domain’s script host')
    assert.equal((await root.patch(`/rest/v1/master/domains/${found?.id}`, { opts: { script_isolation: 'thread' } })).status, 400)
  })

  it('lists executions newest first, filters them, and keeps them read-only', async (t) => {
    const { root } = await startServer(t)
    const good = await saveScript(root, 'good', 'return 1')
    const bad = await saveScript(root, 'bad', 'throw new Error("no")')
    for (const id of [good, bad, good]) await runScript(root, id, { startparams: ['x'.repeat(100_000)] })
    const all = jsonArray(await root.get(EXECUTIONS))
    assert.deepEqual(
      all.map((execution) => execution.script_code),
      ['good', 'bad', 'good'],
    )
    const times = all.map((execution) => execution.started_at as string)
    assert.deepEqual([...times].sort().reverse(), times)
    const failed = jsonArray(
      await root.get(`${EXECUTIONS}?filter=${encodeURIComponent('{"status":"error"}')}&mask=script_code,error.message`),
    )
    assert.deepEqual(failed, [{ script_code: 'bad', error: { message: 'no' } }])
    const input = all[0]?.input as { truncated: boolean; size: number; preview: string }
    assert.equal(input.truncated, true)
    assert.ok(input.size > 100_000)
    assert.equal(input.preview.length, 64 * 1024)
    assertError(await root.post(EXECUTIONS, {}), 404)
    assertError(await root.delete(`${EXECUTIONS}/${String(all[0]?.id)}`), 404)

    // A time window: since (inclusive) and until (exclusive), with the count to match.
    const [newest, middle, oldest] = times as [string, string, string]
    const window = await root.get(`${EXECUTIONS}?since=${encodeURIComponent(middle)}&until=${encodeURIComponent(newest)}`)
    assert.deepEqual(
      jsonArray(window).map((execution) => execution.started_at),
      middle === newest ? [] : [middle],
    )
    assert.equal(window.headers.get('x-total-count'), middle === newest ? '0' : '1')
    const since = jsonArray(await root.get(`${EXECUTIONS}?since=${encodeURIComponent(oldest)}&mask=id`))
    assert.equal(since.length, 3)
    assertError(await root.get(`${EXECUTIONS}?since=yesterday`), 400, /since/)
    assertError(await root.get(`${SCRIPTS}?since=${encodeURIComponent(oldest)}`), 400, /since/)
  })
})

describe('http.request from scripts', () => {
  it('calls an external system, resolving relative URLs against the channel url', async (t) => {
    const stub = await startStub(t, (request, response) => {
      response.setHeader('content-type', 'application/json')
      response.setHeader('x-stub', 'yes')
      response.end(JSON.stringify({ got: request.method, path: request.url }))
    })
    const { root } = await startServer(t, { env: { SWITCHBOARD_EGRESS_ALLOW: '127.0.0.1/32' } })
    await root.post(CHANNELS, { code: 'crm', type: 'public', url: `${stub.url}/api/`, token_remote: 'remote-secret' })
    const id = await saveScript(
      root,
      'caller',
      `const answer = await http.request({ method: 'post', url: 'orders?secret=1', headers: { Authorization: 'Bearer ' + channel.token_remote }, body: { id: 5 } })
      return { status: answer.status, header: answer.headers['x-stub'], json: answer.json(), hasToken: 'token_local' in channel }`,
    )
    const answer = await runScript(root, id, { channel: 'crm' })
    assert.equal(answer.status, 'ok', JSON.stringify(answer.error))
    assert.deepEqual(answer.variables.result, {
      status: 200,
      header: 'yes',
      json: { got: 'POST', path: '/api/orders?secret=1' },
      hasToken: false,
    })
    assert.equal(stub.requests[0]?.headers.authorization, 'Bearer remote-secret')
    assert.equal(stub.requests[0]?.headers['content-type'], 'application/json')
    assert.equal(stub.requests[0]?.body, '{"id":5}')
    assert.equal(answer.logs.length, 1)
    assert.match(answer.logs[0]?.text ?? '', new RegExp(`^http POST ${stub.url}/api/orders\\?… → 200 \\(\\d+ ms\\)$`))
  })

  it("lets scripts of a relative_urls_only type's channels call only paths under the channel url", async (t) => {
    const stub = await startStub(t, (request, response) => {
      response.end(request.url)
    })
    const { root, url } = await startServer(t, { env: { SWITCHBOARD_EGRESS_ALLOW: '127.0.0.1/32' } })
    const bankType = json(
      await root.post(CHANNEL_TYPES, {
        type: 'bank',
        url: `${stub.url}/api/`,
        recv_svcscriptcode: 'bank-in',
        issync: true,
        relative_urls_only: true,
      }),
    )
    assert.equal(bankType.relative_urls_only, true)
    await saveScript(
      root,
      'bank-in',
      `try { return (await http.request({ url: startparam(4).url })).body } catch (error) { return 'refused: ' + error.message }`,
    )
    const bank = json(await root.post(CHANNELS, { code: 'acme', type: 'bank' }))
    const call = async (target: string) => {
      const answer = await rawRequest(
        url,
        'POST',
        '/exec',
        {
          authorization: `Bearer ${String(bank.token_local)}`,
          'content-type': 'application/json',
        },
        JSON.stringify({ url: target }),
      )
      assert.equal(answer.status, 200, answer.text)
      return answer.text
    }
    const refused = (target: string) =>
      `refused: http.request: channels of type 'bank' may call only paths relative to the channel's url (relative_urls_only); '${target}' is not one`
    assert.equal(await call('orders?page=2'), '/api/orders?page=2')
    assert.equal(await call('sub/./items'), '/api/sub/items')
    for (const outside of [
      `${stub.url}/api/orders`,
      'https://example.com/api/orders',
      `//${new URL(stub.url).host}/api/orders`,
      '/other',
      '../other',
      '%2e%2e/other',
      'a/../../other',
      '\\\\example.com/x',
    ]) {
      assert.equal(await call(outside), refused(outside), outside)
    }
    assert.deepEqual(
      stub.requests.map((request) => request.url),
      ['/api/orders?page=2', '/api/sub/items'],
      'nothing outside the channel url was called',
    )

    // The same script on a channel of another type may name full URLs.
    const open = await saveScript(root, 'open', `return (await http.request({ url: '${stub.url}/elsewhere' })).body`)
    assert.equal((await runScript(root, open)).variables.result, '/elsewhere')
    // The test-run endpoint runs as for the channel: the rule holds there too.
    const asBank = await runScript(root, open, { channel: 'acme' })
    assert.equal(asBank.error?.message, refused(`${stub.url}/elsewhere`).slice('refused: '.length))
    // A changed type applies to the next run.
    await root.patch(`${CHANNEL_TYPES}/${String(bankType.id)}`, { relative_urls_only: false })
    assert.equal((await runScript(root, open, { channel: 'acme' })).variables.result, '/elsewhere')
  })

  it('bounds time and response size, and needs a url for relative paths', async (t) => {
    const stub = await startStub(t, async (request, response) => {
      if (request.url === '/slow') await new Promise((resolve) => setTimeout(resolve, 2000))
      response.end(request.url === '/big' ? 'x'.repeat(6 * 1024 * 1024) : 'ok')
    })
    const { root } = await startServer(t, { env: { SWITCHBOARD_EGRESS_ALLOW: '127.0.0.1/32' } })
    const run = async (source: string) =>
      runScript(root, await saveScript(root, `s${Math.random().toString(36).slice(2, 8)}`, source))
    const slow = await run(`return (await http.request({ url: '${stub.url}/slow', timeout: 100 })).body`)
    assert.match(slow.error?.message ?? '', /no answer within 100 ms/)
    const big = await run(`return (await http.request({ url: '${stub.url}/big' })).body.length`)
    assert.match(big.error?.message ?? '', /larger than 5242880 bytes/)
    const relative = await run(`return (await http.request({ url: '/x' })).status`)
    assert.match(relative.error?.message ?? '', /a relative url needs a channel with a url/)
    const bad = await run(`return (await http.request({ url: 'ftp://example.com/' })).status`)
    assert.match(bad.error?.message ?? '', /only http and https/)
    const noOptions = await run('return await http.request("http://example.com")')
    assert.match(noOptions.error?.message ?? '', /needs an options object/)
  })

  it('refuses private, loopback, link-local and metadata addresses unless allowed', async (t) => {
    const stub = await startStub(t, (_request, response) => {
      response.end('reached')
    })
    const { root } = await startServer(t)
    const port = new URL(stub.url).port
    for (const target of [
      stub.url,
      `http://localhost:${port}`,
      'http://169.254.169.254/latest/meta-data/',
      'http://[::1]:9/',
      'http://10.1.2.3/',
      'http://[::ffff:127.0.0.1]:9/',
      `http://[::127.0.0.1]:${port}/`,
      `http://[::ffff:0:127.0.0.1]:${port}/`,
      `http://[::ffff:7f00:1]:${port}/`,
      'http://0.0.0.0:9/',
    ]) {
      const id = await saveScript(
        root,
        `probe${Math.random().toString(36).slice(2, 8)}`,
        `return (await http.request({ url: '${target}', timeout: 2000 })).body`,
      )
      const answer = await runScript(root, id)
      assert.equal(answer.status, 'error', target)
      assert.match(answer.error?.message ?? '', /private, loopback or link-local/, target)
    }
    assert.equal(stub.requests.length, 0, 'nothing reached the loopback server')
  })
})
