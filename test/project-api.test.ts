import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
import { assertError } from './support/assertions.ts'
import { AUDIT, auditOf, capabilityRole, ROLES, userWith } from './support/iam.ts'
import { rawRequest } from './support/raw-http.ts'
import { recordedExecutions, runScript, saveScript } from './support/scripts.ts'
import { CHANNELS, type Client, DOMAINS, json, jsonArray, ROOT_KEY, SCRIPTS, startServer, USERS } from './support/server.ts'
import { TestSocket } from './support/ws-client.ts'

async function connect(t: TestContext, url: string, token: string): Promise<TestSocket> {
  const socket = new TestSocket(`${url.replace('http', 'ws')}/ws/token/v1/${token}`)
  t.after(() => socket.socket.close())
  await socket.opened()
  return socket
}

async function rest(socket: TestSocket, qid: string, frame: Record<string, unknown>): Promise<Record<string, unknown>> {
  socket.send(['rest', { qid, ...frame }])
  const [, answer] = await socket.answer('rest_result', qid)
  return answer
}

async function role(root: Client, code: string, permissions: { route: string; methods: string[] }[]): Promise<void> {
  const reply = await root.post(ROLES, { code, permissions })
  assert.equal(reply.status, 200, reply.text)
}

describe('the project API from inside: the rest capability and api.request (SPEC §6.4, §10)', () => {
  it("answers a token's rest calls with its rights: its roles plus its user's, 403 for the rest", async (t) => {
    const { root, url } = await startServer(t)
    await role(root, 'reader', [
      { route: '/rest/v1/service/*', methods: ['GET'] },
      { route: '/ws#rest', methods: ['WEBSOCKET'] },
    ])
    await role(root, 'scripter', [{ route: '/rest/v1/service/svcscripts', methods: ['POST'] }])
    const channel = json(
      await root.post(CHANNELS, { code: 'console', type: 'public', opts: { roles: ['reader'], filter_capabilities: ['rest'] } }),
    )
    const socket = await connect(t, url, channel.token_local as string)

    const listed = await rest(socket, 'q1', { method: 'GET', path: `${CHANNELS}?mask=code,type` })
    assert.deepEqual(listed, { qid: 'q1', result: 'ok', status: 200, body: [{ code: 'console', type: 'public' }] })
    const one = await rest(socket, 'q2', { method: 'get', path: `${CHANNELS}/${String(channel.id)}?mask=code` })
    assert.deepEqual(one, { qid: 'q2', result: 'ok', status: 200, body: { code: 'console' } })
    assert.deepEqual(await rest(socket, 'q3', { method: 'POST', path: SCRIPTS, body: { code: 'x', source: 'return 1' } }), {
      qid: 'q3',
      result: 'ok',
      status: 403,
      body: { error_code: 1403, error_message: "the token's roles do not allow POST /rest/v1/service/svcscripts" },
    })
    assert.equal((await rest(socket, 'q4', { method: 'GET', path: USERS })).status, 403)
    assert.deepEqual((await rest(socket, 'q5', { method: 'GET', path: DOMAINS })).body, {
      error_code: 1403,
      error_message: 'this needs master rights: the root key or an admin of the master domain',
    })

    // The channel's opts.userid user adds its roles; a change applies to the next call.
    const user = await userWith(root, 'bot', ['scripter'])
    await root.patch(`${CHANNELS}/${String(channel.id)}`, { opts: { userid: user.id } })
    const created = await rest(socket, 'q6', {
      method: 'POST',
      path: SCRIPTS,
      body: { code: 'made-by-token', source: 'return 1' },
    })
    assert.equal(created.status, 200, JSON.stringify(created))
    const script = created.body as { id: string; code: string }
    assert.equal(script.code, 'made-by-token')
    // The token acted with its user's rights: the audit names that user, through the channel.
    const entries = await auditOf(root, script.id)
    assert.deepEqual(
      entries.map((entry) => ({ ...entry, changes: undefined })),
      [
        {
          actor: { kind: 'user', id: user.id, via: { kind: 'channel', id: channel.id } },
          collection: 'svcscripts',
          entity_id: script.id,
          operation: 'create',
          fields: ['code', 'name', 'lang', 'source', 'opts.title', 'opts.comment', 'opts.loglevel', 'version'],
          changes: undefined,
        },
      ],
    )
    assert.deepEqual(((entries[0]?.changes ?? []) as unknown[]).slice(0, 1), [{ field: 'code', after: 'made-by-token' }])
    // Validation answers as over HTTP.
    const invalid = await rest(socket, 'q7', { method: 'POST', path: SCRIPTS, body: { code: 'bad code' } })
    assert.equal(invalid.status, 400)
    assert.equal((invalid.body as { error_code: number }).error_code, 1400)
  })

  it('refuses rest frames that are not REST calls, oversized bodies, and channels without the capability', async (t) => {
    const { root, url } = await startServer(t, { env: { SWITCHBOARD_REST_BODY_LIMIT: '2048' } })
    const withRest = json(
      await root.post(CHANNELS, { code: 'r', type: 'public', opts: { roles: ['admin'], filter_capabilities: ['rest'] } }),
    )
    const without = json(await root.post(CHANNELS, { code: 'n', type: 'public', opts: { roles: ['admin'] } }))
    const socket = await connect(t, url, withRest.token_local as string)
    const refused = (qid: string, message: string) => ({ qid, result: 'error', error_code: 1400, error_message: message })
    const badMethod = 'method must be one of GET, POST, PUT, PATCH, DELETE'
    const badPath = 'path must be a path of the REST API, starting with /rest/v1/'
    assert.deepEqual(await rest(socket, 'a', { path: CHANNELS }), refused('a', badMethod))
    assert.deepEqual(await rest(socket, 'b', { method: 'TRACE', path: CHANNELS }), refused('b', badMethod))
    assert.deepEqual(await rest(socket, 'c', { method: 'GET' }), refused('c', badPath))
    for (const [qid, path] of [
      ['d', `/exec/${String(withRest.token_local)}`],
      ['e', '/files/x'],
      ['f', '/ws/token/v1'],
      ['g', '/rest/v1/x y'],
      ['h', '/rest/v1/x\u0000'],
      ['i', 'http://example.com/rest/v1/'],
      ['j', 42],
    ] as const) {
      assert.deepEqual(await rest(socket, qid, { method: 'GET', path }), refused(qid, badPath), String(path))
    }
    const big = await rest(socket, 'm', {
      method: 'POST',
      path: SCRIPTS,
      body: { code: 'big', source: `return '${'x'.repeat(4000)}'` },
    })
    assert.deepEqual(big, {
      qid: 'm',
      result: 'ok',
      status: 413,
      body: { error_code: 1413, error_message: 'the body is larger than this endpoint accepts' },
    })
    // An admin token may do everything in its domain, through the same routes and checks.
    assert.equal((await rest(socket, 'k', { method: 'DELETE', path: `${CHANNELS}/${String(without.id)}` })).status, 200)
    assert.equal((await rest(socket, 'l', { method: 'GET', path: '/rest/v1/service/nothing-here' })).status, 404)

    const other = json(await root.post(CHANNELS, { code: 'n2', type: 'public', opts: { roles: ['admin'] } }))
    const plain = await connect(t, url, other.token_local as string)
    plain.send(['rest', { qid: 'z', method: 'GET', path: CHANNELS }])
    assert.deepEqual((await plain.answer('rest_result', 'z'))[1], {
      qid: 'z',
      result: 'error',
      error_code: 1403,
      error_message: "the channel does not allow the 'rest' capability (opts.filter_capabilities)",
    })
  })

  it('never takes a principal from a request that came over a socket, whatever its headers', async (t) => {
    const { root, url } = await startServer(t)
    await root.post(CHANNELS, { code: 'admin-token', type: 'public', opts: { roles: ['admin'], filter_capabilities: ['rest'] } })
    for (const value of ['x', 'A'.repeat(43), '']) {
      const answer = await rawRequest(url, 'GET', CHANNELS, { 'switchboard-in-process-ticket': value })
      assertError(answer, 401, /an API key is required/)
    }
  })

  it("lets a channel's script call the API with the token's rights, and audits its changes as its user via the channel", async (t) => {
    const { root, client, url } = await startServer(t)
    await role(root, 'script-writer', [{ route: '/rest/v1/service/svcscripts/*', methods: ['GET', 'POST'] }])
    await saveScript(
      root,
      'caller',
      `const made = await api.request('POST', '/rest/v1/service/svcscripts', { code: 'from-script', source: 'return 2' })
       const users = await api.request('GET', '/rest/v1/iam/users')
       const found = await api.request('POST', '/rest/v1/service/svcscripts/lookup', { code: 'from-script' })
       return { made: [made.status, made.body.code], users, found: found.status }`,
    )
    const channel = json(
      await root.post(CHANNELS, {
        code: 'hook',
        type: 'public',
        recv_svcscriptcode: 'caller',
        opts: { issync: true, roles: ['script-writer'] },
      }),
    )
    const answer = await rawRequest(url, 'POST', '/exec', { authorization: `Bearer ${String(channel.token_local)}` })
    assert.equal(answer.status, 200, answer.text)
    assert.deepEqual(answer.body, {
      made: [200, 'from-script'],
      users: { status: 403, body: { error_code: 1403, error_message: "the token's roles do not allow GET /rest/v1/iam/users" } },
      found: 200,
    })
    const made = json(await root.post(`${SCRIPTS}/lookup`, { code: 'from-script' }))
    assert.deepEqual(
      (await auditOf(root, made.id as string)).map((entry) => entry.actor),
      [{ kind: 'channel', id: channel.id }],
      'a channel without opts.userid acts as itself',
    )

    // With opts.userid, the script acts as that user through the channel, still with the token's
    // rights (the channel's role allows the write; the user itself holds no role).
    const bot = await userWith(root, 'bot', [])
    await root.patch(`${CHANNELS}/${String(channel.id)}`, { opts: { userid: bot.id } })
    await root.patch(`${SCRIPTS}/${String(made.id)}`, { code: 'from-script-old' })
    const again = await rawRequest(url, 'POST', '/exec', { authorization: `Bearer ${String(channel.token_local)}` })
    assert.deepEqual((again.body as { made: unknown }).made, [200, 'from-script'])
    const remade = json(await root.post(`${SCRIPTS}/lookup`, { code: 'from-script' }))
    const asUser = { kind: 'user', id: bot.id, via: { kind: 'channel', id: channel.id } }
    assert.deepEqual(
      (await auditOf(root, remade.id as string)).map((entry) => entry.actor),
      [asUser],
    )
    const viaChannel = jsonArray(
      await root.get(`${AUDIT}?filter=${encodeURIComponent(JSON.stringify({ 'actor.via.id': channel.id }))}`),
    )
    assert.deepEqual(
      viaChannel.map((entry) => [entry.entity_id, entry.actor]),
      [[remade.id, asUser]],
    )
    await root.patch(`${CHANNELS}/${String(channel.id)}`, { opts: { userid: null } })

    // Bad calls fail the script with a message saying why.
    const bad = await saveScript(root, 'bad-call', "await api.request('GET', '/exec/x')")
    const failed = await runScript(root, bad, { channel: 'hook' })
    assert.equal(failed.status, 'error')
    assert.equal(failed.error?.message, 'api.request: path must be a path of the REST API, starting with /rest/v1/')

    // A test run acts as its caller: a user who may only run scripts cannot use the API through one.
    await role(root, 'runner', [{ route: '/rest/v1/service/svcscripts/*/run', methods: ['POST'] }])
    const runner = client((await userWith(root, 'runner', ['runner'])).key)
    const lister = await saveScript(root, 'lister', "return (await api.request('GET', '/rest/v1/iam/users')).status")
    assert.deepEqual((await runScript(runner, lister, { channel: 'hook' })).variables, { result: 403 })
    assert.deepEqual((await runScript(root, lister)).variables, { result: 200 }, 'the root key may')
    // The root key's script may use master routes too; the change is in the master domain's log, as the root's.
    const maker = await saveScript(
      root,
      'maker',
      "return (await api.request('POST', '/rest/v1/master/domains', { name: 'made' })).body.id",
    )
    const domainId = (await runScript(root, maker)).variables.result as string
    const master = client(ROOT_KEY, { 'switchboard-domain': 'master' })
    assert.deepEqual(
      (await auditOf(master, domainId)).map((entry) => entry.actor),
      [{ kind: 'root', id: 'root' }],
    )
    const entries = jsonArray(await root.get(`${AUDIT}?limit=1000`))
    assert.ok(entries.every((entry) => (entry.actor as { kind: string }).kind !== 'channel' || entry.collection === 'svcscripts'))

    // A channel of the master domain whose user is a master admin still has no master rights.
    const masterAdmin = await userWith(master, 'chief', ['admin'])
    await saveScript(master, 'grab', "return (await api.request('POST', '/rest/v1/master/domains', { name: 'grabbed' })).body")
    const masterHook = json(
      await master.post(CHANNELS, {
        code: 'master-hook',
        type: 'public',
        recv_svcscriptcode: 'grab',
        opts: { issync: true, roles: ['admin'], userid: masterAdmin.id },
      }),
    )
    const grabbed = await rawRequest(url, 'POST', '/exec', { authorization: `Bearer ${String(masterHook.token_local)}` })
    assert.deepEqual(grabbed.body, {
      error_code: 1403,
      error_message: 'this needs master rights: the root key or an admin of the master domain',
    })
  })

  it('reaches only /rest/v1/ routes: the path is checked as the router will see it, dot segments refused in every spelling', async (t) => {
    const { root, client, url } = await startServer(t)
    // Another domain's sync webhook, which would answer with what it was sent.
    await root.post(DOMAINS, { name: 'acme' })
    const acme = client(ROOT_KEY, { 'switchboard-domain': 'acme' })
    await saveScript(acme, 'echo', 'return { headers: request.headers, ip: request.ip }')
    const target = json(
      await acme.post(CHANNELS, { code: 'hook', type: 'public', recv_svcscriptcode: 'echo', opts: { issync: true } }),
    )
    const token = target.token_local as string
    // A channel of default whose roles give it the rest capability and nothing else.
    const channel = json(
      await root.post(CHANNELS, {
        code: 'nobody',
        type: 'public',
        opts: { filter_capabilities: ['rest'], roles: [await capabilityRole(root, ['rest'])] },
      }),
    )
    const socket = await connect(t, url, channel.token_local as string)
    const refused = (qid: string, message: string) => ({ qid, result: 'error', error_code: 1400, error_message: message })
    const dots = 'path may not hold . or .. segments (also encoded)'
    const paths: [string, string][] = [
      [`/rest/v1/../../exec/${token}`, dots],
      ['/rest/v1/../../metrics', dots],
      [`/rest/v1/%2e%2e/%2e%2e/exec/${token}`, dots],
      [`/rest/v1/.%2E/%2E./exec/${token}`, dots],
      [`/rest/v1/%252e%252e/%252e%252e/exec/${token}`, dots],
      ['/rest/v1/service/./integration_points', dots],
      ['/rest/v1/service/integration_points/..', dots],
      [`/rest/v1/..%2f..%2fexec/${token}`, 'path may not hold an encoded / or \\'],
      [`/rest/v1/..%5c..%5cexec/${token}`, 'path may not hold an encoded / or \\'],
      [`/rest/v1\\..\\..\\exec/${token}`, 'path must be a path of the REST API, starting with /rest/v1/'],
      ['/rest/v1/%zz', 'path has a malformed percent-encoding'],
    ]
    for (const [i, [path, message]] of paths.entries()) {
      assert.deepEqual(await rest(socket, `p${i}`, { method: 'GET', path }), refused(`p${i}`, message), path)
    }
    // The same rule for api.request.
    await saveScript(root, 'escape', `return (await api.request('POST', '/rest/v1/../../exec/${token}')).status`)
    const hook = json(
      await root.post(CHANNELS, { code: 'escaper', type: 'public', recv_svcscriptcode: 'escape', opts: { issync: true } }),
    )
    const escaped = await rawRequest(url, 'POST', `/exec/${String(hook.token_local)}`)
    assert.equal(escaped.status, 500)
    const [record] = await recordedExecutions(root, { script_code: 'escape' }, 1)
    assert.deepEqual(record?.error, { message: 'api.request: path may not hold . or .. segments (also encoded)' })
    // Nothing ran in the other domain.
    assert.deepEqual(jsonArray(await acme.get('/rest/v1/service/executions')), [])
    // A path that stays inside still works, query and all.
    const listed = await rest(socket, 'ok', {
      method: 'GET',
      path: `${CHANNELS}?mask=code&filter=${encodeURIComponent('{"code":"nobody"}')}`,
    })
    assert.deepEqual(listed, {
      qid: 'ok',
      result: 'ok',
      status: 403,
      body: { error_code: 1403, error_message: "the token's roles do not allow GET /rest/v1/service/integration_points" },
    })
  })

  it('never lets the in-process ticket header reach a route, a script or a record', async (t) => {
    const { root, url } = await startServer(t)
    await saveScript(root, 'echo', 'return { headers: request.headers }')
    const channel = json(
      await root.post(CHANNELS, { code: 'hook', type: 'public', recv_svcscriptcode: 'echo', opts: { issync: true } }),
    )
    const answer = await rawRequest(url, 'POST', `/exec/${String(channel.token_local)}`, {
      'switchboard-in-process-ticket': 'A'.repeat(43),
      'x-kept': 'yes',
    })
    assert.equal(answer.status, 200, answer.text)
    const headers = (answer.body as { headers: Record<string, string> }).headers
    assert.equal(headers['x-kept'], 'yes')
    assert.equal(headers['switchboard-in-process-ticket'], undefined)
    const records = await recordedExecutions(root, {}, 1)
    assert.equal(records.length, 1)
    assert.doesNotMatch(JSON.stringify(records), /switchboard-in-process-ticket/)
  })
})

const EXECUTIONS = '/rest/v1/service/executions'

/** The executions matching `filter` once `done` holds for them, polled (records are written in batches). */
async function executionsWhen(
  root: Client,
  filter: Record<string, unknown>,
  done: (found: Record<string, unknown>[]) => boolean,
): Promise<Record<string, unknown>[]> {
  const end = performance.now() + 20_000
  for (;;) {
    const found = jsonArray(await root.get(`${EXECUTIONS}?filter=${encodeURIComponent(JSON.stringify(filter))}&limit=1000`))
    if (done(found)) return found
    if (performance.now() > end) throw new Error(`executions ${JSON.stringify(filter)}: ${JSON.stringify(found)}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** `{below: …}` nested as deep as the chain went, the refusal at the bottom: the depth and the refusal. */
function unnest(value: unknown): { depth: number; bottom: unknown } {
  let depth = 0
  let at = value
  while (at !== null && typeof at === 'object' && 'below' in at) {
    at = (at as { below: unknown }).below
    depth++
  }
  return { depth, bottom: at }
}

describe('runs started through api.request (issue 15, item 4)', () => {
  it('carries the chain depth into runs a script starts, and refuses the ninth with 1508', async (t) => {
    const { root } = await startServer(t)
    const id = await saveScript(root, 'self', 'return 0')
    // The script runs itself through the run endpoint: without a bound, it never ends.
    const source = `const nested = await api.request('POST', '${SCRIPTS}/${id}/run', {})
      return { below: nested.status === 200 ? nested.body.variables.result : nested.body }`
    assert.equal((await root.patch(`${SCRIPTS}/${id}`, { source })).status, 200)

    const top = await runScript(root, id, { timeout: 30_000 })
    assert.equal(top.status, 'ok', JSON.stringify(top))
    const { depth, bottom } = unnest(top.variables.result)
    assert.equal(depth, 9, 'the first run and eight nested ones answered')
    assert.deepEqual(bottom, {
      error_code: 1508,
      error_message: "more than 8 executions in one chain: script 'self' was not run (do scripts start each other in a loop?)",
    })
    const runs = await executionsWhen(root, { script_code: 'self' }, (found) => found.length >= 9)
    assert.equal(runs.length, 9)
    assert.ok(runs.every((run) => run.status === 'ok'))
  })

  it('carries the chain depth into replays a script starts', async (t) => {
    const { root } = await startServer(t)
    await role(root, 'replayer', [{ route: `${EXECUTIONS}/*`, methods: ['POST'] }])
    assert.equal((await root.post(CHANNELS, { code: 'loop', type: 'public', opts: { roles: ['replayer'] } })).status, 200)
    const id = await saveScript(root, 'replays', 'return 0')
    const first = await runScript(root, id, { channel: 'loop' })
    // A replay runs the script's current source: now it replays its own first execution.
    const source = `const again = await api.request('POST', '${EXECUTIONS}/${first.execution_id}/replay')
      return { below: again.status === 200 ? again.body.output.result : again.body }`
    assert.equal((await root.patch(`${SCRIPTS}/${id}`, { source })).status, 200)

    const top = await runScript(root, id, { channel: 'loop', timeout: 30_000 })
    assert.equal(top.status, 'ok', JSON.stringify(top))
    const { depth, bottom } = unnest(top.variables.result)
    assert.equal(depth, 9)
    assert.equal((bottom as { error_code: number }).error_code, 1508)
    const replays = await executionsWhen(root, { script_code: 'replays', trigger: 'replay' }, (found) => found.length >= 8)
    assert.equal(replays.length, 8)
  })

  it('ends the runs a script started when that script ends', async (t) => {
    const { root } = await startServer(t)
    const inner = await saveScript(root, 'inner', 'await sleep(20000)\nreturn "finished"')
    const outer = await saveScript(
      root,
      'outer',
      `await api.request('POST', '${SCRIPTS}/${inner}/run', { timeout: 30000 })
      return 'unreachable'`,
    )
    const answer = await runScript(root, outer, { timeout: 500 })
    assert.equal(answer.status, 'timeout')
    // The inner run ends with its caller, not 20 s later, and says so.
    const [run] = await executionsWhen(root, { script_code: 'inner' }, (found) => found.length === 1)
    assert.equal(run?.status, 'aborted', JSON.stringify(run))
    assert.deepEqual(run?.error, { message: 'the execution was aborted' })
    assert.ok((run?.duration_ms as number) < 20_000)
  })
})
