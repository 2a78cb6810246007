import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
import { Channel } from '../src/channels/channel-schemas.ts'
import { assertError, assertMatchesSchema } from './support/assertions.ts'
import { auditOf, capabilityRole, ROLES, userWith } from './support/iam.ts'
import { recordedExecutions, saveScript } from './support/scripts.ts'
import { API_KEYS, CHANNELS, type Client, httpClient, json, jsonArray, startServer, USERS } from './support/server.ts'
import { TestSocket } from './support/ws-client.ts'

const masked = (secret: string) => `${secret.slice(0, 6)}…${secret.slice(-4)}`

async function role(root: Client, code: string, permissions: { route: string; methods: string[] }[]): Promise<string> {
  const reply = await root.post(ROLES, { code, permissions })
  assert.equal(reply.status, 200, reply.text)
  return json(reply).id as string
}

async function connect(t: TestContext, url: string, token: string): Promise<TestSocket> {
  const socket = new TestSocket(`${url.replace('http', 'ws')}/ws/token/v1/${token}`)
  t.after(() => socket.socket.close())
  await socket.opened()
  return socket
}

async function rest(socket: TestSocket, qid: string, frame: Record<string, unknown>): Promise<Record<string, unknown>> {
  socket.send(['rest', { qid, ...frame }])
  return (await socket.answer('rest_result', qid))[1]
}

describe('channel secrets and granting rights (SPEC §3, §10; docs/iam.md)', () => {
  it('shows channel secrets only to callers who may change the channel and hold its token’s rights; others see them masked', async (t) => {
    const { root, client, url } = await startServer(t)
    await role(root, 'reader', [{ route: '/rest/v1/service/*', methods: ['GET'] }])
    await role(root, 'editor', [
      { route: '/rest/v1/service/*', methods: ['GET'] },
      { route: '/rest/v1/service/integration_points/*', methods: ['PATCH'] },
    ])
    const plain = json(
      await root.post(CHANNELS, {
        code: 'plain',
        type: 'public',
        token_remote: 'remote-credential-0123456789abcdef',
        token_remote2: 'short-one',
      }),
    )
    const powerful = json(
      await root.post(CHANNELS, { code: 'powerful', type: 'public', opts: { roles: ['admin'], filter_capabilities: ['rest'] } }),
    )
    const token = plain.token_local as string
    const adminToken = powerful.token_local as string
    const reader = client((await userWith(root, 'reader-user', ['reader'])).key)
    const editor = client((await userWith(root, 'editor-user', ['editor'])).key)

    const maskedPlain = {
      token_local: masked(token),
      token_remote: masked('remote-credential-0123456789abcdef'),
      token_remote2: '…',
    }
    const secretsOf = (entity: Record<string, unknown>) => ({
      token_local: entity.token_local,
      token_remote: entity.token_remote,
      token_remote2: entity.token_remote2,
    })
    // A reader: every answer masks them, listed, one by one, projected or flattened.
    const listed = jsonArray(await reader.get(CHANNELS))
    for (const entity of listed) assertMatchesSchema(Channel, entity)
    assert.deepEqual(
      listed.map((entity) => [entity.code, secretsOf(entity)]),
      [
        ['plain', maskedPlain],
        ['powerful', { token_local: masked(adminToken), token_remote: '', token_remote2: '' }],
      ],
    )
    assert.deepEqual(secretsOf(json(await reader.get(`${CHANNELS}/${String(plain.id)}`))), maskedPlain)
    assert.deepEqual(json(await reader.get(`${CHANNELS}/${String(plain.id)}?mask=token_local`)), {
      token_local: masked(token),
    })
    assert.equal(jsonArray(await reader.get(`${CHANNELS}?flat=true`))[0]?.token_local, masked(token))
    // The masked token opens nothing.
    assertError(await httpClient(url).post(`/exec/${masked(adminToken)}`), 404)

    // An editor may change `plain`, whose token has no rights: it sees its secrets. `powerful`'s
    // token can do more than the editor, so reading it would hand the editor those rights.
    assert.deepEqual(secretsOf(json(await editor.get(`${CHANNELS}/${String(plain.id)}`))), {
      token_local: token,
      token_remote: 'remote-credential-0123456789abcdef',
      token_remote2: 'short-one',
    })
    const seenByEditor = json(await editor.get(`${CHANNELS}/${String(powerful.id)}`))
    assert.equal(seenByEditor.token_local, masked(adminToken))
    // Sending the masked entity back keeps the stored secrets.
    const { id: _id, ext: _ext, ...editable } = seenByEditor
    const saved = await editor.patch(`${CHANNELS}/${String(powerful.id)}`, { ...editable, opts: { title: 'renamed' } })
    assert.equal(saved.status, 200, saved.text)
    assert.equal(json(saved).token_local, masked(adminToken))
    const stored = json(await root.get(`${CHANNELS}/${String(powerful.id)}`))
    assert.equal(stored.token_local, adminToken)
    assert.deepEqual(stored.opts, { ...(powerful.opts as object), title: 'renamed' })
    assertError(
      await editor.patch(`${CHANNELS}/${String(plain.id)}`, { token_local: 'abcdef…wxyz' }),
      400,
      /token_local is masked/,
      'token_local',
    )
    // Choosing the token of a channel is taking its rights.
    assertError(
      await editor.patch(`${CHANNELS}/${String(powerful.id)}`, { token_local: 'chosen-by-the-editor-0123' }),
      403,
      /^choosing the token of this channel gives more rights than the caller holds \(admin: everything in the domain\)$/,
      'token_local',
    )
    assert.equal(json(await root.get(`${CHANNELS}/${String(powerful.id)}`)).token_local, adminToken)

    // Through a token's rest capability, the same rules: a reader token sees them masked.
    const readerChannel = json(
      await root.post(CHANNELS, {
        code: 'reader-token',
        type: 'public',
        opts: { roles: ['reader', await capabilityRole(root, ['rest'])], filter_capabilities: ['rest'] },
      }),
    )
    const socket = await connect(t, url, readerChannel.token_local as string)
    const answer = await rest(socket, 'q1', { method: 'GET', path: `${CHANNELS}/${String(powerful.id)}?mask=token_local` })
    assert.deepEqual(answer, { qid: 'q1', result: 'ok', status: 200, body: { token_local: masked(adminToken) } })
  })

  it('keeps a channel’s secrets out of execution records; a replay gets the channel as it is', async (t) => {
    const { root, client, url } = await startServer(t)
    await role(root, 'reader', [{ route: '/rest/v1/service/*', methods: ['GET'] }])
    const reader = client((await userWith(root, 'reader-user', ['reader'])).key)
    const secret = 'remote-credential-0123456789abcdef'
    await saveScript(
      root,
      'uses-credential',
      `return startparam(1).token_remote === '${secret}' && startparam(1).token_remote2 === 'short-one'`,
    )
    const channel = json(
      await root.post(CHANNELS, {
        code: 'ws',
        type: 'public',
        recv_svcscriptcode_ws: 'uses-credential',
        token_remote: secret,
        token_remote2: 'short-one',
      }),
    )
    const socket = await connect(t, url, channel.token_local as string)
    socket.send(['message', { qid: 'm1', data: {} }])
    assert.deepEqual((await socket.answer('message_result', 'm1'))[1], { qid: 'm1', success: true, data: true })
    const [record] = await recordedExecutions(reader, { trigger: 'ws' }, 1)
    assert.ok(record)
    const recorded = (record.input as { startparams: Record<string, unknown>[] }).startparams[0]
    assert.equal(recorded?.id, channel.id)
    assert.equal(recorded?.token_remote, masked(secret))
    assert.equal(recorded?.token_remote2, '…')
    assert.equal(recorded?.token_local, undefined)
    assert.doesNotMatch(JSON.stringify(record), new RegExp(`${secret}|${String(channel.token_local)}`))
    const replayed = await root.post(`/rest/v1/service/executions/${String(record.id)}/replay`)
    assert.equal(replayed.status, 200, replayed.text)
    assert.deepEqual(json(replayed).output, { result: true })
  })

  it('never lets a write give more rights than its writer holds', async (t) => {
    const { root, client, url } = await startServer(t)
    const adminUser = json(await root.post(USERS, { login: 'boss', roles: ['admin'] }))
    await role(root, 'iam-reader', [{ route: '/rest/v1/iam/*', methods: ['GET'] }])
    const helper = json(await root.post(USERS, { login: 'helper', roles: ['iam-reader'] }))

    // A role that lets a user PATCH its own user: it may not make itself admin.
    const self = await userWith(root, 'self', [])
    await role(root, 'self-service', [{ route: `/rest/v1/iam/users/${self.id}`, methods: ['GET', 'PATCH'] }])
    assert.equal((await root.patch(`${USERS}/${self.id}`, { roles: ['self-service'] })).status, 200)
    const selfClient = client(self.key)
    assert.deepEqual((await selfClient.patch(`${USERS}/${self.id}`, { roles: ['self-service', 'admin'] })).body, {
      error_code: 1403,
      error_message: "role 'admin' gives more rights than the caller holds (admin: everything in the domain)",
      error_details: [{ field: 'roles', message: 'gives more rights than the caller holds (admin: everything in the domain)' }],
    })
    assertError(
      await selfClient.patch(`${USERS}/${self.id}`, { roles: ['self-service', 'iam-reader'] }),
      403,
      /GET \/rest\/v1\/iam\/\*/,
    )
    assert.deepEqual(json(await root.get(`${USERS}/${self.id}`)).roles, ['self-service'])
    // Changing what does not grant, or dropping a role, is fine.
    assert.equal((await selfClient.patch(`${USERS}/${self.id}`, { name: 'Self' })).status, 200)

    // API keys act with their user's rights: a key for a stronger user is refused.
    await role(root, 'key-maker', [
      { route: '/rest/v1/iam/*', methods: ['GET'] },
      { route: '/rest/v1/iam/api_keys', methods: ['POST'] },
    ])
    const maker = client((await userWith(root, 'maker', ['key-maker'])).key)
    assertError(
      await maker.post(API_KEYS, { userid: adminUser.id }),
      403,
      /^a key for user 'boss' gives more rights than the caller holds \(admin: everything in the domain\)$/,
      'userid',
    )
    const helperKey = await maker.post(API_KEYS, { userid: helper.id })
    assert.equal(helperKey.status, 200, helperKey.text)
    assert.equal((await client(json(helperKey).key as string).get(USERS)).status, 200)

    // Roles a channel gives its token, and the user it acts as, count the same.
    await role(root, 'channel-maker', [
      { route: '/rest/v1/service/integration_points', methods: ['POST'] },
      { route: '/rest/v1/service/integration_points/*', methods: ['GET', 'PATCH'] },
    ])
    const channelMaker = client((await userWith(root, 'channel-maker', ['channel-maker'])).key)
    assertError(
      await channelMaker.post(CHANNELS, { code: 'escalate', type: 'public', opts: { roles: ['admin'] } }),
      403,
      /^role 'admin' gives more rights/,
      'opts.roles',
    )
    assertError(
      await channelMaker.post(CHANNELS, { code: 'escalate', type: 'public', opts: { userid: adminUser.id } }),
      403,
      new RegExp(`^user '${String(adminUser.id)}' gives more rights`),
      'opts.userid',
    )
    const own = json(await channelMaker.post(CHANNELS, { code: 'own', type: 'public' }))
    assertError(
      await channelMaker.patch(`${CHANNELS}/${String(own.id)}`, { opts: { roles: ['iam-reader'] } }),
      403,
      /GET \/rest\/v1\/iam/,
    )
    assert.equal(jsonArray(await root.get(`${CHANNELS}?filter=${encodeURIComponent('{"code":"escalate"}')}`)).length, 0)

    // A role's new permissions go to everyone holding it: only what its writer holds.
    const editorRole = await role(root, 'role-editor', [{ route: '/rest/v1/iam/roles/*', methods: ['GET', 'PATCH'] }])
    const roleEditor = client((await userWith(root, 'role-editor', ['role-editor'])).key)
    assertError(
      await roleEditor.patch(`${ROLES}/${editorRole}`, {
        permissions: [
          { route: '/rest/v1/iam/roles/*', methods: ['GET', 'PATCH'] },
          { route: '/rest/v1/*', methods: ['*'] },
        ],
      }),
      403,
      /^role 'role-editor' gives more rights than the caller holds \(GET \/rest\/v1\/\*\)$/,
      'permissions',
    )
    const narrowed = await roleEditor.patch(`${ROLES}/${editorRole}`, {
      permissions: [
        { route: '/rest/v1/iam/roles/*', methods: ['GET', 'PATCH'] },
        { route: `/rest/v1/iam/roles/${editorRole}`, methods: ['GET'] },
      ],
    })
    assert.equal(narrowed.status, 200, narrowed.text)

    // A channel token acts with its rights: a token that may create keys still cannot mint an admin's.
    await role(root, 'token-keys', [
      { route: '/rest/v1/iam/api_keys', methods: ['POST'] },
      { route: '/rest/v1/iam/users/*', methods: ['GET'] },
    ])
    const keyToken = json(
      await root.post(CHANNELS, {
        code: 'key-token',
        type: 'public',
        opts: { roles: ['token-keys', await capabilityRole(root, ['rest'])], filter_capabilities: ['rest'] },
      }),
    )
    const socket = await connect(t, url, keyToken.token_local as string)
    const refused = await rest(socket, 'k1', { method: 'POST', path: API_KEYS, body: { userid: adminUser.id } })
    assert.deepEqual(refused.body, {
      error_code: 1403,
      error_message: "a channel's token cannot create API keys: they are made with a user's key",
    })
    // Nor can an admin token: a key would outlive the token's rotation, and act as a user the token is not.
    const adminToken = json(
      await root.post(CHANNELS, {
        code: 'admin-token',
        type: 'public',
        opts: { roles: ['admin'], filter_capabilities: ['rest'] },
      }),
    )
    const adminSocket = await connect(t, url, adminToken.token_local as string)
    const minted = await rest(adminSocket, 'k2', { method: 'POST', path: API_KEYS, body: { userid: adminUser.id } })
    assert.equal(minted.status, 403, JSON.stringify(minted))
    assert.deepEqual(
      jsonArray(await root.get(`${API_KEYS}?filter=${encodeURIComponent(JSON.stringify({ userid: adminUser.id }))}`)),
      [],
    )
    assert.deepEqual(await auditOf(root, String(adminUser.id)), [
      {
        actor: { kind: 'root', id: 'root' },
        collection: 'users',
        entity_id: adminUser.id,
        operation: 'create',
        fields: ['login', 'name', 'roles', 'opts.comment', 'opts.email'],
        changes: [
          { field: 'login', after: 'boss' },
          { field: 'name', after: '' },
          { field: 'roles', after: ['admin'] },
          { field: 'opts.comment', after: '' },
          { field: 'opts.email', after: '' },
        ],
      },
    ])
  })

  it('refuses role routes with . or .. segments (1400)', async (t) => {
    const { root } = await startServer(t)
    for (const route of ['/rest/v1/service/../iam/*', '/rest/v1/./iam/users', '/rest/v1/service/..', '/./*']) {
      assertError(
        await root.post(ROLES, { code: 'dots', permissions: [{ route, methods: ['GET'] }] }),
        400,
        /^permissions\.0\.route may not hold \. or \.\. segments/,
        'permissions.0.route',
      )
    }
    assert.deepEqual(jsonArray(await root.get(ROLES)), [])
  })
})
