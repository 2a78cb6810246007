import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import WebSocket from 'ws'
import { ApiKey } from '../src/iam/iam-schemas.ts'
import { assertError, assertMatchesSchema } from './support/assertions.ts'
import { rawRequest } from './support/raw-http.ts'
import {
  API_KEYS,
  CHANNEL_TYPES,
  CHANNELS,
  DOMAINS,
  json,
  jsonArray,
  ROOT_KEY,
  SCRIPTS,
  startServer,
  USERS,
} from './support/server.ts'

describe('authentication and domains (SPEC §2)', () => {
  it('refuses missing, malformed and unknown keys with 1401', async (t) => {
    const { client } = await startServer(t)
    assertError(await client().get(CHANNELS), 401, /Authorization: Bearer/)
    assertError(await client(undefined, { authorization: 'Basic dXNlcjpwdw==' }).get(CHANNELS), 401)
    assertError(await client(undefined, { authorization: 'Bearer' }).get(CHANNELS), 401)
    assertError(await client('not-a-key').get(CHANNELS), 401, /not valid/)
    assertError(await client(`${ROOT_KEY}x`).get(CHANNELS), 401)
    // Authentication comes before the body is read: no parse error, no side effect.
    assertError(await client().request('POST', CHANNELS, '{broken'), 401)
  })

  it('lets the root key act in default, or in the domain named by Switchboard-Domain', async (t) => {
    const { root, client } = await startServer(t)
    await root.post(DOMAINS, { name: 'acme' })
    const acme = client(ROOT_KEY, { 'switchboard-domain': 'acme' })
    const inDefault = json(await root.post(CHANNELS, { code: 'shared-code', type: 'public' }))
    const inAcme = json(await acme.post(CHANNELS, { code: 'shared-code', type: 'public' }))
    assert.deepEqual(
      jsonArray(await root.get(CHANNELS)).map((c) => c.id),
      [inDefault.id],
    )
    assert.deepEqual(
      jsonArray(await acme.get(CHANNELS)).map((c) => c.id),
      [inAcme.id],
    )
    assertError(await root.get(`${CHANNELS}/${String(inAcme.id)}`), 404, /does not exist/)
    assertError(await root.patch(`${CHANNELS}/${String(inAcme.id)}`, { opts: { title: 'x' } }), 404)
    assertError(await root.delete(`${CHANNELS}/${String(inAcme.id)}`), 404)
    assertError(await client(ROOT_KEY, { 'switchboard-domain': 'nowhere' }).get(CHANNELS), 404, /domain 'nowhere' does not exist/)
    assert.equal(json(await acme.get(`${CHANNELS}/${String(inAcme.id)}`)).code, 'shared-code')
  })

  it('shows an API key once, stores only its hash, and gives it its user’s domain and roles', async (t) => {
    const { root, client, config } = await startServer(t)
    await root.post(DOMAINS, { name: 'acme' })
    const acmeRoot = client(ROOT_KEY, { 'switchboard-domain': 'acme' })
    const user = json(await acmeRoot.post(USERS, { login: 'ann', name: 'Ann', roles: ['admin'] }))
    const created = json(await acmeRoot.post(API_KEYS, { userid: user.id, name: 'laptop' }))
    const key = created.key as string
    assert.match(key, /^sbk_[A-Za-z0-9_-]{43}$/)
    assert.deepEqual(Object.keys(created).sort(), ['ext', 'id', 'key', 'last_used_at', 'name', 'userid'])
    assert.equal(created.last_used_at, null, 'never used yet')
    const listed = jsonArray(await acmeRoot.get(API_KEYS))
    assert.equal(listed.length, 1)
    assertMatchesSchema(ApiKey, listed[0])
    assert.equal(JSON.stringify(listed).includes(key), false)
    assert.equal(JSON.stringify(json(await acmeRoot.get(`${API_KEYS}/${String(created.id)}`))).includes('key_hash'), false)
    assertError(await acmeRoot.get(`${API_KEYS}?filter=${encodeURIComponent('{"key_hash":"x"}')}`), 400, /unknown field/)
    const database = readFileSync(join(config.dataDir, 'switchboard.db'))
    assert.equal(database.includes(Buffer.from(key)), false, 'the key itself is nowhere in the database file')

    const ann = client(key)
    const mine = json(await ann.post(CHANNELS, { code: 'from-ann', type: 'public' }))
    assert.deepEqual(
      jsonArray(await acmeRoot.get(CHANNELS)).map((c) => c.id),
      [mine.id],
    )
    assert.equal((await client(key, { 'switchboard-domain': 'acme' }).get(CHANNELS)).status, 200)
    // Its use shows as its last-used time, written off the request path; a PATCH renames it but cannot set that.
    let used: Record<string, unknown> = {}
    for (let i = 0; i < 100 && typeof used.last_used_at !== 'string'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20))
      used = json(await acmeRoot.get(`${API_KEYS}/${String(created.id)}`))
    }
    assert.ok(Math.abs(Date.parse(String(used.last_used_at)) - Date.now()) < 10_000, String(used.last_used_at))
    const renamed = json(await acmeRoot.patch(`${API_KEYS}/${String(created.id)}`, { name: 'ann’s laptop' }))
    assert.equal(renamed.name, 'ann’s laptop')
    assert.equal(renamed.last_used_at, used.last_used_at)
    assertError(await acmeRoot.patch(`${API_KEYS}/${String(created.id)}`, { last_used_at: null }), 400, /last_used_at/)
    assertError(await client(key, { 'switchboard-domain': 'default' }).get(CHANNELS), 403, /acts in domain 'acme' only/)
    assertError(await ann.get(DOMAINS), 403, /master rights/)
    assertError(await ann.post(CHANNEL_TYPES, { type: 'x' }), 403, /master rights/)
  })

  it('stops a deleted key and a demoted user on the very next request', async (t) => {
    const { root, client } = await startServer(t)
    const user = json(await root.post(USERS, { login: 'bob', roles: ['admin'] }))
    const first = json(await root.post(API_KEYS, { userid: user.id }))
    const second = json(await root.post(API_KEYS, { userid: user.id }))
    const bob = client(first.key as string)
    assert.equal((await bob.get(SCRIPTS)).status, 200)
    await root.delete(`${API_KEYS}/${String(first.id)}`)
    assertError(await bob.get(SCRIPTS), 401)
    const bob2 = client(second.key as string)
    assert.equal((await bob2.get(SCRIPTS)).status, 200)
    await root.patch(`${USERS}/${String(user.id)}`, { roles: [] })
    assertError(await bob2.get(SCRIPTS), 403, /roles do not allow/)
    await root.patch(`${USERS}/${String(user.id)}`, { roles: ['admin'] })
    assert.equal((await bob2.get(SCRIPTS)).status, 200)
  })

  it('gives master rights to the root key and to admins of the master domain only', async (t) => {
    const { root, client } = await startServer(t)
    const masterRoot = client(ROOT_KEY, { 'switchboard-domain': 'master' })
    const admin = json(await masterRoot.post(USERS, { login: 'ops', roles: ['admin'] }))
    const plain = json(await masterRoot.post(USERS, { login: 'viewer' }))
    const adminKey = json(await masterRoot.post(API_KEYS, { userid: admin.id })).key as string
    const plainKey = json(await masterRoot.post(API_KEYS, { userid: plain.id })).key as string
    const names = jsonArray(await client(adminKey).get(DOMAINS)).map((d) => d.name)
    assert.deepEqual(names, ['default', 'master'])
    assert.equal((await client(adminKey).post(DOMAINS, { name: 'created-by-ops' })).status, 200)
    assertError(await client(plainKey).get(DOMAINS), 403)
    assertError(await client(plainKey).get(CHANNELS), 403)
    assert.equal((await root.get(DOMAINS)).status, 200)
  })

  it('validates users and keys, and refuses deleting a user that keys or channels still name', async (t) => {
    const { root } = await startServer(t)
    assertError(await root.post(USERS, { login: 'x', roles: ['wizard'] }), 400, /not a known role/, 'roles')
    assertError(await root.post(USERS, { login: 'has space' }), 400, undefined, 'login')
    const user = json(await root.post(USERS, { login: 'carol', opts: { email: 'c@example.com' } }))
    assertError(await root.post(USERS, { login: 'carol' }), 409, /login 'carol' already exists/)
    assertError(await root.post(API_KEYS, { userid: '3f2b8c1e-7d4a-4c6b-9e1f-2a3b4c5d6e7f' }), 400, /does not exist/, 'userid')
    const other = json(await root.post(USERS, { login: 'dave' }))
    const key = json(await root.post(API_KEYS, { userid: user.id, name: 'k' }))
    assertError(await root.patch(`${API_KEYS}/${String(key.id)}`, { userid: other.id }), 400, /cannot be changed/, 'userid')
    assert.equal(json(await root.patch(`${API_KEYS}/${String(key.id)}`, { name: 'renamed' })).name, 'renamed')
    const channel = json(await root.post(CHANNELS, { code: 'c', type: 'public', opts: { userid: user.id } }))
    assertError(await root.delete(`${USERS}/${String(user.id)}`), 409, /1 API key/)
    await root.delete(`${API_KEYS}/${String(key.id)}`)
    assertError(await root.delete(`${USERS}/${String(user.id)}`), 409, /opts.userid of channels c/)
    await root.patch(`${CHANNELS}/${String(channel.id)}`, { opts: { userid: null } })
    assert.equal(json(await root.delete(`${USERS}/${String(user.id)}`)).login, 'carol')
  })

  it('accepts and refuses the same Authorization spellings on every route that takes a bearer token', async (t) => {
    const metricsToken = 'metrics-token-0123456789'
    const { root, url } = await startServer(t, { env: { SWITCHBOARD_METRICS_TOKEN: metricsToken } })
    await root.post(SCRIPTS, { code: 'ok', source: "return 'ok'" })
    const channel = json(
      await root.post(CHANNELS, {
        code: 'c',
        type: 'public',
        recv_svcscriptcode: 'ok',
        opts: { issync: true, allow_files_api: true },
      }),
    )
    const token = channel.token_local as string
    const upgrade = (authorization: string) =>
      new Promise<number>((resolve) => {
        const socket = new WebSocket(`${url.replace('http', 'ws')}/ws/token/v1`, { headers: { authorization } })
        socket.on('open', () => {
          socket.close()
          resolve(101)
        })
        socket.on('unexpected-response', (_request, response) => {
          response.resume()
          resolve(response.statusCode ?? 0)
        })
        socket.on('error', () => {})
      })
    /** The status each route answers when `spell` writes its secret in the header. */
    const statuses = async (spell: (secret: string) => string) => ({
      admin: (await rawRequest(url, 'GET', CHANNELS, { authorization: spell(ROOT_KEY) })).status,
      exec: (await rawRequest(url, 'POST', '/exec', { authorization: spell(token) })).status,
      files: (await rawRequest(url, 'GET', '/files/', { authorization: spell(token) })).status,
      websocket: await upgrade(spell(token)),
      metrics: (await rawRequest(url, 'GET', '/metrics', { authorization: spell(metricsToken) })).status,
    })
    const accepted = { admin: 200, exec: 200, files: 200, websocket: 101, metrics: 200 }
    const refused = { admin: 401, exec: 401, files: 401, websocket: 401, metrics: 401 }
    for (const spell of [
      (secret: string) => `Bearer ${secret}`,
      (secret: string) => `bearer ${secret}`,
      (secret: string) => `BEARER ${secret}`,
      (secret: string) => `Bearer\t${secret}`,
      (secret: string) => `Bearer    ${secret}\t `,
    ]) {
      assert.deepEqual(await statuses(spell), accepted, JSON.stringify(spell('<secret>')))
    }
    for (const spell of [
      (secret: string) => `Bearer ${secret} more`,
      (secret: string) => `Basic ${secret}`,
      (secret: string) => `Bearer${secret}`,
      (secret: string) => `Token ${secret}`,
    ]) {
      assert.deepEqual(await statuses(spell), refused, JSON.stringify(spell('<secret>')))
    }
  })
})
