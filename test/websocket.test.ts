import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import WebSocket from 'ws'
import { capabilityRole } from './support/iam.ts'
import { recordedExecutions } from './support/scripts.ts'
import { CHANNELS, type Client, json, jsonArray, ROOT_KEY, SCRIPTS, startServer } from './support/server.ts'
import { TestSocket } from './support/ws-client.ts'

async function wsChannel(root: Client, code: string, source: string, opts: Record<string, unknown> = {}) {
  assert.equal((await root.post(SCRIPTS, { code: `${code}-ws`, source })).status, 200)
  const reply = await root.post(CHANNELS, { code, type: 'public', recv_svcscriptcode_ws: `${code}-ws`, opts })
  assert.equal(reply.status, 200, reply.text)
  return json(reply) as { id: string; token_local: string }
}

/** The HTTP answer to an upgrade that was refused. */
function refusal(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers })
    socket.on('unexpected-response', (_request, response) => {
      let body = ''
      response.on('data', (chunk) => {
        body += chunk
      })
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }))
    })
    socket.on('open', () => reject(new Error('the upgrade was accepted')))
    socket.on('error', () => {})
  })
}

describe('websocket Token API (SPEC §6)', () => {
  it('connects by path or header, answers connection_info, and runs messages concurrently by qid', async (t) => {
    const { root, url } = await startServer(t)
    const channel = await wsChannel(
      root,
      'chat',
      'await sleep(startparam(2).wait)\nreturn { echo: startparam(2).n, conn: startparam(3), qid: startparam(4) }',
    )
    const base = url.replace('http', 'ws')
    const client = new TestSocket(`${base}/ws/token/v1/${channel.token_local}`)
    t.after(() => client.socket.close())
    await client.opened()
    client.send(['connection_info', { qid: 'i' }])
    const [, info] = await client.answer('connection_info_result', 'i')
    assert.equal(info.result, 'ok')
    assert.equal(info.domain, 'default')
    assert.equal(info.integration_point_id, channel.id)
    assert.equal(info.integration_point_type, 'public')
    assert.match(String(info.connectionid), /^[0-9a-f-]{36}$/)
    assert.equal(info.sessionid, info.connectionid)
    assert.equal(info.ownertype, 'integration_point')
    assert.deepEqual(info.capabilities, [])
    assert.deepEqual(info.roles, [])
    assert.equal(typeof info.timestamp, 'number')
    const [listed] = jsonArray(await root.get('/rest/v1/service/connections'))
    assert.deepEqual([info.site, info.connectionid], [listed?.node, listed?.id], 'site names the node holding the connection')

    // 50 at once, the slow ones first: answers come as they finish, matched by qid.
    for (let i = 0; i < 50; i++) client.send(['message', { qid: i, data: { n: i, wait: i < 5 ? 300 : 0 } }])
    const answers = []
    for (let i = 0; i < 50; i++) answers.push(await client.answer('message_result', i))
    for (const [i, [, answer]] of answers.entries()) {
      assert.deepEqual(answer, { qid: i, success: true, data: { echo: i, conn: info.connectionid, qid: i } })
    }
    assert.equal(client.frames.length, 0, 'nothing else was sent')

    const byHeader = new TestSocket(`${base}/ws/token/v1`, { authorization: `Bearer ${channel.token_local}` })
    t.after(() => byHeader.socket.close())
    await byHeader.opened()
    byHeader.send(['message', { data: { n: 1, wait: 0 } }])
    byHeader.send(['message', { qid: 'q', data: { n: 2, wait: 0 } }])
    const [, second] = await byHeader.answer('message_result', 'q')
    assert.equal((second.data as { echo: number }).echo, 2)
    assert.equal(byHeader.frames.length, 0, 'a message without qid gets no answer')
    // Each message is an execution with trigger "ws" (records are written in batches).
    let recorded = 0
    for (let i = 0; i < 100 && recorded < 51; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20))
      recorded = jsonArray(await root.get('/rest/v1/service/executions?filter=%7B%22trigger%22%3A%22ws%22%7D&limit=1000')).length
    }
    assert.equal(recorded, 52)
    // A message's execution replays with the same start parameters.
    const [sample] = jsonArray(
      await root.get(`/rest/v1/service/executions?filter=${encodeURIComponent('{"trigger":"ws","status":"ok"}')}&limit=1`),
    )
    const replayed = json(await root.post(`/rest/v1/service/executions/${String(sample?.id)}/replay`))
    assert.equal(replayed.trigger, 'replay')
    assert.deepEqual(replayed.output, sample?.output)
  })

  it('opens a capability when the channel filter and the token rights both allow it, and lists those by name', async (t) => {
    const { root, url } = await startServer(t)
    const subscriber = await capabilityRole(root, ['subscr'])
    const everything = await capabilityRole(root)
    const user = json(await root.post('/rest/v1/iam/users', { login: 'bot', roles: [everything] }))
    await root.post(SCRIPTS, { code: 'one', source: 'return 1' })
    const open = async (code: string, opts: Record<string, unknown>) => {
      const channel = json(await root.post(CHANNELS, { code, type: 'public', opts }))
      const client = new TestSocket(`${url.replace('http', 'ws')}/ws/token/v1/${String(channel.token_local)}`)
      t.after(() => client.socket.close())
      await client.opened()
      return client
    }
    const capabilities = async (client: TestSocket) => {
      const qid = Math.random()
      client.send(['connection_info', { qid }])
      return (await client.answer('connection_info_result', qid))[1].capabilities
    }
    const start = async (client: TestSocket) => {
      const qid = Math.random()
      client.send(['start_svcscript', { qid, code: 'one' }])
      const { qid: _qid, ...answer } = (await client.answer('start_svcscript_result', qid))[1]
      return answer
    }
    const subscribe = async (client: TestSocket) => {
      const qid = Math.random()
      client.send(['subscribe', { qid, id: 's', events: ['projectevents'], expires: 60 }])
      const { qid: _qid, ...answer } = (await client.answer('subscribe_result', qid))[1]
      return answer
    }
    const noRights = (capability: string) => ({
      result: 'error',
      error_code: 1403,
      error_message:
        `the token's rights do not allow the '${capability}' capability: give the channel (opts.roles) ` +
        `or its opts.userid user a role with /ws#${capability} (method WEBSOCKET)`,
    })
    const notInFilter = (capability: string) => ({
      result: 'error',
      error_code: 1403,
      error_message: `the channel does not allow the '${capability}' capability (opts.filter_capabilities)`,
    })

    // A filter alone opens nothing: the rights must allow it too.
    const filterOnly = await open('filter-only', { filter_capabilities: ['*'] })
    assert.deepEqual(await capabilities(filterOnly), [])
    assert.deepEqual(await start(filterOnly), noRights('svcscript'))
    // A /ws#subscr permission opens subscr, and only that; never '*' in the list.
    const subscribing = await open('subscribing', { filter_capabilities: ['*'], roles: [subscriber] })
    assert.deepEqual(await capabilities(subscribing), ['subscr'])
    assert.deepEqual(await subscribe(subscribing), { result: 'ok', id: 's', expires: 60 })
    assert.deepEqual(await start(subscribing), noRights('svcscript'))
    // Rights alone open nothing either: the filter narrows them (admin included).
    const narrowed = await open('narrowed', { filter_capabilities: ['svcscript'], roles: ['admin'] })
    assert.deepEqual(await capabilities(narrowed), ['svcscript'])
    assert.deepEqual(await start(narrowed), { result: 'ok', data: { variables: { result: 1 } } })
    assert.deepEqual(await subscribe(narrowed), notInFilter('subscr'))
    // The opts.userid user's roles count as the channel's own do.
    const byUser = await open('by-user', { filter_capabilities: ['subscr', 'rest'], userid: user.id })
    assert.deepEqual(await capabilities(byUser), ['subscr', 'rest'])
    // A changed role applies to the next frame of open connections.
    const [role] = jsonArray(
      await root.get(`/rest/v1/iam/roles?filter=${encodeURIComponent(JSON.stringify({ code: subscriber }))}`),
    )
    await root.patch(`/rest/v1/iam/roles/${String(role?.id)}`, {
      permissions: [
        { route: '/ws#subscr', methods: ['WEBSOCKET'] },
        { route: '/ws#svcscript', methods: ['WEBSOCKET'] },
      ],
    })
    assert.deepEqual(await capabilities(subscribing), ['svcscript', 'subscr'])
    assert.deepEqual(await start(subscribing), { result: 'ok', data: { variables: { result: 1 } } })
  })

  it('lists the live connections of the domain, by channel', async (t) => {
    const { root, url, client } = await startServer(t)
    const base = url.replace('http', 'ws')
    const first = await wsChannel(root, 'first', 'return 1')
    const second = await wsChannel(root, 'second', 'return 1')
    const sockets = [first, first, second].map((channel) => new TestSocket(`${base}/ws/token/v1/${channel.token_local}`))
    for (const socket of sockets) t.after(() => socket.socket.close())
    await Promise.all(sockets.map((socket) => socket.opened()))
    const listed = jsonArray(await root.get('/rest/v1/service/connections'))
    // Oldest first; the three opened at once, so their order among themselves is the server's.
    assert.deepEqual(listed.map((connection) => connection.channel_code).sort(), ['first', 'first', 'second'])
    const times = listed.map((connection) => String(connection.opened_at))
    assert.deepEqual([...times].sort(), times)
    for (const connection of listed) {
      assert.deepEqual(Object.keys(connection).sort(), ['channel_code', 'channel_id', 'id', 'ip', 'node', 'opened_at'])
      assert.equal(connection.ip, '127.0.0.1')
    }
    const ofSecond = jsonArray(await root.get(`/rest/v1/service/connections?channel_id=${second.id}`))
    assert.deepEqual(
      ofSecond.map((connection) => connection.channel_id),
      [second.id],
    )
    assert.equal((await root.post('/rest/v1/master/domains', { name: 'elsewhere' })).status, 200)
    const other = client(ROOT_KEY, { 'switchboard-domain': 'elsewhere' })
    assert.deepEqual(jsonArray(await other.get('/rest/v1/service/connections')), [])
    assert.equal((await root.get('/rest/v1/service/connections?channel_id=nope')).status, 400)
    assert.equal((await client().get('/rest/v1/service/connections')).status, 401)
    sockets[0]?.socket.close()
    await sockets[0]?.closed
    for (let i = 0; i < 50 && jsonArray(await root.get('/rest/v1/service/connections')).length !== 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    assert.equal(jsonArray(await root.get('/rest/v1/service/connections')).length, 2)
  })

  it('refuses bad tokens and senders at the upgrade with a JSON answer', async (t) => {
    const { root, url } = await startServer(t)
    const base = url.replace('http', 'ws')
    const open = await wsChannel(root, 'open', 'return 1')
    const masked = await wsChannel(root, 'masked', 'return 1')
    await root.patch(`${CHANNELS}/${masked.id}`, { ipmask: ['203.0.113.0/24'] })
    for (const [target, headers, status] of [
      [`${base}/ws/token/v1`, {}, 401],
      [`${base}/ws/token/v1/not-a-token`, {}, 404],
      [`${base}/ws/token/v1`, { authorization: 'Bearer nope' }, 404],
      [`${base}/ws/token/v1/${masked.token_local}`, {}, 403],
    ] as const) {
      const answer = await refusal(target, headers)
      assert.equal(answer.status, status, `${target}: ${answer.body}`)
      assert.equal(JSON.parse(answer.body).error_code, 1000 + status)
    }
    const client = new TestSocket(`${base}/ws/token/v1/${open.token_local}`)
    await client.opened()
    client.socket.close()
  })

  it('answers malformed, unknown, binary and refused frames with errors and keeps the connection', async (t) => {
    const { root, url } = await startServer(t, { config: { wsMaxInFlight: 2 } })
    const channel = await wsChannel(root, 'strict', 'await sleep(200)\nreturn 1')
    const client = new TestSocket(`${url.replace('http', 'ws')}/ws/token/v1/${channel.token_local}`)
    t.after(() => client.socket.close())
    await client.opened()
    const errors: [unknown, RegExp][] = [
      ['{not json', /not valid JSON/],
      ['{"a":1}', /\[name, payload\]/],
      ['["message", 5]', /must be an object/],
      [`[${'['.repeat(1000)}${']'.repeat(1000)}, {}]`, /too deep/],
      [['nope', { qid: 1 }], /unknown frame 'nope'/],
    ]
    for (const [frame, message] of errors) {
      client.send(frame)
      const [, error] = await client.next(([name]) => name === 'error')
      assert.equal(error.error_code, 1400)
      assert.match(String(error.error_message), message)
    }
    client.socket.send(Buffer.from([1, 2, 3]), { binary: true })
    const [, binary] = await client.next(([name]) => name === 'error')
    assert.match(String(binary.error_message), /binary frames are not accepted/)
    client.send(['start_svcscript', { qid: 's', code: 'x' }])
    const [, refused] = await client.answer('start_svcscript_result', 's')
    assert.deepEqual([refused.result, refused.error_code], ['error', 1403], 'the channel does not allow svcscript')

    for (const qid of [1, 2, 3]) client.send(['message', { qid, data: null }])
    const [, limited] = await client.answer('message_result', 3)
    assert.deepEqual([limited.success, limited.error_code], [false, 1429])
    assert.equal((await client.answer('message_result', 1))[1].success, true)
    client.send(['connection_info', { qid: 'still' }])
    assert.equal((await client.answer('connection_info_result', 'still'))[1].result, 'ok')
  })

  it('answers a frame whose qid is neither a string nor a number with a 1400 error frame, and runs nothing', async (t) => {
    const { root, url } = await startServer(t)
    const channel = await wsChannel(root, 'qids', 'return startparam(4)', { filter_capabilities: ['*'] })
    const client = new TestSocket(`${url.replace('http', 'ws')}/ws/token/v1/${channel.token_local}`)
    t.after(() => client.socket.close())
    await client.opened()
    const frames: [string, unknown][] = [
      ['message', { a: 1 }],
      ['message', [1]],
      ['message', true],
      ['connection_info', {}],
      ['start_svcscript', { code: 'qids-ws' }],
      ['file_get_link', { path: 'x' }],
      ['rest', { method: 'GET', path: CHANNELS }],
      ['subscribe', { id: 's' }],
    ]
    for (const [name, qid] of frames) {
      client.send([name, { qid, data: 'x' }])
      const [frameName, payload] = await client.next(() => true)
      assert.deepEqual(
        [frameName, payload],
        ['error', { error_code: 1400, error_message: `the qid of '${name}' must be a string or a number` }],
      )
    }
    // No qid, or a null one: a message runs and gets no answer (SPEC §6.3); a good qid is answered.
    client.send(['message', { qid: null, data: 1 }])
    client.send(['message', { qid: 'ok', data: 2 }])
    assert.deepEqual((await client.answer('message_result', 'ok'))[1], { qid: 'ok', success: true, data: 'ok' })
    const records = await recordedExecutions(root, { trigger: 'ws' }, 2)
    assert.deepEqual(records.map((record) => (record.output as { result: unknown }).result).sort(), [null, 'ok'])
    assert.deepEqual(client.frames, [])
  })

  it('starts and aborts service scripts with the svcscript capability', async (t) => {
    const { root, url } = await startServer(t)
    const channel = await wsChannel(root, 'runner', 'return 1', {
      filter_capabilities: ['svcscript'],
      roles: [await capabilityRole(root, ['svcscript'])],
    })
    await root.post(SCRIPTS, {
      code: 'sum',
      source: 'vars.sum = startparam(1) + startparam(2)\nvars.third = startparam(3) ?? null',
    })
    await root.post(SCRIPTS, { code: 'slow', source: 'await sleep(5000)\nreturn 1' })
    await root.post(SCRIPTS, { code: 'broken', source: 'throw new Error("no")' })
    const client = new TestSocket(`${url.replace('http', 'ws')}/ws/token/v1/${channel.token_local}`)
    t.after(() => client.socket.close())
    await client.opened()

    client.send(['start_svcscript', { qid: 1, code: 'sum', startparam1: 2, startparam2: 40 }])
    assert.deepEqual((await client.answer('start_svcscript_result', 1))[1], {
      qid: 1,
      result: 'ok',
      data: { variables: { sum: 42, third: null } },
    })
    client.send(['start_svcscript', { qid: 2, code: 'nope' }])
    assert.deepEqual((await client.answer('start_svcscript_result', 2))[1].error_code, 1404)
    client.send(['start_svcscript', { qid: 3, code: 'broken' }])
    assert.match(String((await client.answer('start_svcscript_result', 3))[1].error_message), /^script failed \(execution/)
    client.send(['start_svcscript', { qid: 4, code: 'slow', timeout: 100 }])
    assert.equal((await client.answer('start_svcscript_result', 4))[1].error_code, 1504)
    client.send(['start_svcscript', { qid: 5, code: 'sum', timeout: 60_001 }])
    assert.equal((await client.answer('start_svcscript_result', 5))[1].error_code, 1400)

    client.send(['start_svcscript', { qid: 'long', code: 'slow' }])
    await new Promise((resolve) => setTimeout(resolve, 100))
    const started = performance.now()
    client.send(['abort_svcscript', { qid: 'long' }])
    assert.deepEqual((await client.answer('abort_svcscript_result', 'long'))[1], { qid: 'long', result: 'ok' })
    const [, aborted] = await client.answer('start_svcscript_result', 'long')
    assert.deepEqual([aborted.result, aborted.error_code], ['error', 1499])
    assert.ok(performance.now() - started < 5000, 'answered at the abort, not when the script would have ended')
    client.send(['abort_svcscript', { qid: 'nothing' }])
    assert.equal((await client.answer('abort_svcscript_result', 'nothing'))[1].error_code, 1404)
  })

  it('delivers pushes from scripts to a connection or a whole channel, sync ones with the answer', async (t) => {
    const { root, url } = await startServer(t)
    const base = url.replace('http', 'ws')
    const channel = await wsChannel(root, 'pushy', 'return 1')
    const other = await wsChannel(root, 'quiet', 'return 1')
    const [a, b, c] = [channel.token_local, channel.token_local, other.token_local].map(
      (token) => new TestSocket(`${base}/ws/token/v1/${token}`),
    )
    for (const client of [a, b, c] as TestSocket[]) {
      t.after(() => client.socket.close())
      await client.opened()
    }
    const client = a as TestSocket
    client.send(['connection_info', { qid: 'i' }])
    const connectionId = (await client.answer('connection_info_result', 'i'))[1].connectionid as string
    const run = async (source: string, startparams: unknown[] = []) => {
      const script = json(await root.post(SCRIPTS, { code: `push-${Math.random().toString(36).slice(2)}`, source }))
      return json(await root.post(`${SCRIPTS}/${String(script.id)}/run`, { startparams })) as {
        variables: Record<string, unknown>
      }
    }

    await run('await ws.send(startparam(1), "note", { text: "hi" })', [connectionId])
    assert.deepEqual(await client.next(([name]) => name === 'note'), ['note', { text: 'hi' }])
    await run('await ws.send({ channel: "pushy" }, "all", [1, 2])')
    assert.deepEqual(await client.next(([name]) => name === 'all'), ['all', [1, 2]])
    assert.deepEqual(await (b as TestSocket).next(([name]) => name === 'all'), ['all', [1, 2]])
    await new Promise((resolve) => setTimeout(resolve, 100))
    assert.equal((c as TestSocket).frames.length, 0, 'another channel gets nothing')

    // sync: the client answers <name>_result with the qid it was given
    const asking = run('return await ws.send(startparam(1), "ask", { question: 6 }, { sync: true, timeout: 3000 })', [
      connectionId,
    ])
    const [, question] = await client.next(([name]) => name === 'ask')
    assert.equal(question.question, 6)
    client.send(['ask_result', { qid: question.qid, answer: 42 }])
    assert.deepEqual((await asking).variables, { result: { qid: question.qid, answer: 42 } })

    const unanswered = await run(
      'try { await ws.send(startparam(1), "ask", {}, { sync: true, timeout: 200 }) } catch (error) { return error.message }',
      [connectionId],
    )
    assert.match(String(unanswered.variables.result), /no ask_result within 200 ms/)
    client.frames.length = 0
    const refusedSync = await run(
      'try { await ws.send({ channel: "pushy" }, "x", {}, { sync: true }) } catch (e) { return e.message }',
    )
    assert.match(String(refusedSync.variables.result), /sync needs one connection id/)
    const badTarget = await run('try { await ws.send(42, "x", {}) } catch (e) { return e.message }')
    assert.match(String(badTarget.variables.result), /target must be a connection id/)
  })

  it('lets send_svcscriptcode_ws reshape or drop pushes', async (t) => {
    const { root, url } = await startServer(t)
    await root.post(SCRIPTS, {
      code: 'shape',
      source:
        'const { name, data } = startparam(2)\nif (data.secret) { vars.drop = true; return }\nvars.name = "shaped." + name\nreturn { ...data, conn: startparam(3) }',
    })
    const channel = await wsChannel(root, 'shaped', 'return 1')
    await root.patch(`${CHANNELS}/${channel.id}`, { send_svcscriptcode_ws: 'shape' })
    const client = new TestSocket(`${url.replace('http', 'ws')}/ws/token/v1/${channel.token_local}`)
    t.after(() => client.socket.close())
    await client.opened()
    client.send(['connection_info', { qid: 'i' }])
    const connectionId = (await client.answer('connection_info_result', 'i'))[1].connectionid as string
    const script = json(
      await root.post(SCRIPTS, { code: 'pusher', source: 'await ws.send({ channel: "shaped" }, "n", startparam(1))' }),
    )
    await root.post(`${SCRIPTS}/${String(script.id)}/run`, { startparams: [{ secret: true }] })
    await root.post(`${SCRIPTS}/${String(script.id)}/run`, { startparams: [{ v: 1 }] })
    assert.deepEqual(await client.next(([name]) => name.startsWith('shaped.')), ['shaped.n', { v: 1, conn: connectionId }])
    await new Promise((resolve) => setTimeout(resolve, 100))
    assert.equal(client.frames.length, 0, 'the secret one was dropped')
  })

  it('ends a reshaping script that pushes to its own channel after a bounded chain', async (t) => {
    const { root, url } = await startServer(t)
    // Each push through the channel runs this script, which pushes through the channel again.
    await root.post(SCRIPTS, {
      code: 'echo-loop',
      source: 'await ws.send({ channel: "looping" }, "again", {})\nreturn startparam(2).data',
    })
    const channel = await wsChannel(root, 'looping', 'return 1')
    await root.patch(`${CHANNELS}/${channel.id}`, { send_svcscriptcode_ws: 'echo-loop' })
    const client = new TestSocket(`${url.replace('http', 'ws')}/ws/token/v1/${channel.token_local}`)
    t.after(() => client.socket.close())
    await client.opened()
    const starter = json(await root.post(SCRIPTS, { code: 'starter', source: 'await ws.send({ channel: "looping" }, "go", {})' }))
    assert.equal((await root.post(`${SCRIPTS}/${String(starter.id)}/run`, { startparams: [] })).status, 200)
    // The chain stops at its bound: eight runs of the reshaping script, then none.
    const runs = async () =>
      jsonArray(
        await root.get(`/rest/v1/service/executions?filter=${encodeURIComponent('{"script_code":"echo-loop"}')}&limit=100`),
      ).length
    for (let i = 0; i < 100 && (await runs()) < 8; i++) await new Promise((resolve) => setTimeout(resolve, 50))
    await new Promise((resolve) => setTimeout(resolve, 300))
    assert.equal(await runs(), 8)
    client.send(['connection_info', { qid: 'alive' }])
    assert.equal((await client.answer('connection_info_result', 'alive'))[1].result, 'ok', 'the server keeps serving')
  })

  it('closes connections when the token is rotated or the channel deleted, and oversized frames with 1009', async (t) => {
    const { root, url } = await startServer(t, { config: { wsMaxFrameBytes: 4096 } })
    const base = url.replace('http', 'ws')
    const channel = await wsChannel(root, 'rotating', 'return 1')
    const first = new TestSocket(`${base}/ws/token/v1/${channel.token_local}`)
    await first.opened()
    const rotated = json(await root.patch(`${CHANNELS}/${channel.id}`, { token_local: null }))
    assert.deepEqual(await first.closed, { code: 4401, reason: 'the channel token was rotated' })

    const second = new TestSocket(`${base}/ws/token/v1/${String(rotated.token_local)}`)
    await second.opened()
    second.send(['message', { qid: 1, data: 'x'.repeat(5000) }])
    assert.equal((await second.closed).code, 1009)

    const third = new TestSocket(`${base}/ws/token/v1/${String(rotated.token_local)}`)
    await third.opened()
    await root.delete(`${CHANNELS}/${channel.id}`)
    assert.deepEqual(await third.closed, { code: 4404, reason: 'the channel was deleted' })
  })

  it('drops peers that stop answering pings, and bounds connections per channel', async (t) => {
    const { root, url } = await startServer(t, {
      config: { wsPingMs: 100, wsMaxBufferedBytes: 64 * 1024, wsMaxConnectionsPerChannel: 2 },
    })
    const base = url.replace('http', 'ws')
    const channel = await wsChannel(root, 'lively', 'return 1')
    const target = `${base}/ws/token/v1/${channel.token_local}`

    // A peer whose socket reads nothing answers no ping: it is dropped (no closing handshake).
    const dead = new TestSocket(target)
    await dead.opened()
    const raw = (dead.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket
    raw.pause()
    await new Promise((resolve) => setTimeout(resolve, 500))
    raw.resume()
    // The server terminated it: the client sees the end of the stream, with no close frame.
    assert.equal((await dead.closed).code, 1006)

    const one = new TestSocket(target)
    const two = new TestSocket(target)
    await Promise.all([one.opened(), two.opened()])
    t.after(() => {
      one.socket.close()
      two.socket.close()
    })
    const third = await refusal(target)
    assert.equal(third.status, 429)
    assert.match(JSON.parse(third.body).error_message, /most connections/)
  })

  it('closes a client that does not read its messages with 1013', async (t) => {
    const { root, url } = await startServer(t, { config: { wsMaxBufferedBytes: 64 * 1024 } })
    const channel = await wsChannel(root, 'slowpoke', 'return 1')
    const target = `${url.replace('http', 'ws')}/ws/token/v1/${channel.token_local}`
    // A reader that does not keep up is closed once its send buffer passes the bound.
    const slow = new TestSocket(target)
    await slow.opened()
    slow.send(['connection_info', { qid: 'i' }])
    const connectionId = (await slow.answer('connection_info_result', 'i'))[1].connectionid as string
    ;(slow.socket as unknown as { _socket: { pause(): void } })._socket.pause()
    const flood = json(
      await root.post(SCRIPTS, {
        code: 'flood',
        source:
          'const chunk = "x".repeat(100000)\nfor (let i = 0; i < 300; i++) await ws.send(startparam(1), "chunk", { chunk })',
      }),
    )
    await root.post(`${SCRIPTS}/${String(flood.id)}/run`, { startparams: [connectionId], timeout: 30_000 })
    ;(slow.socket as unknown as { _socket: { resume(): void } })._socket.resume()
    assert.deepEqual(await slow.closed, { code: 1013, reason: 'the client does not read its messages fast enough' })
  })

  it('says goodbye with 1001 when the server shuts down', async (t) => {
    const { root, url, app } = await startServer(t)
    const channel = await wsChannel(root, 'bye', 'return 1')
    const client = new TestSocket(`${url.replace('http', 'ws')}/ws/token/v1/${channel.token_local}`)
    await client.opened()
    await app.close()
    assert.equal((await client.closed).code, 1001)
  })
})
