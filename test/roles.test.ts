import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Role } from '../src/iam/iam-schemas.ts'
import { assertError, assertMatchesSchema } from './support/assertions.ts'
import { ROLES, userWith } from './support/iam.ts'
import { CHANNELS, DOMAINS, json, jsonArray, ROOT_KEY, SCRIPTS, startServer, USERS } from './support/server.ts'

describe('roles and permissions (SPEC §10)', () => {
  it('gives a user exactly what its roles allow, and 1403 for the rest, from the very next request', async (t) => {
    const { root, client } = await startServer(t)
    const channel = json(await root.post(CHANNELS, { code: 'shop', type: 'public' }))
    const created = await root.post(ROLES, {
      code: 'reader',
      name: 'Reads the service collections',
      permissions: [{ route: '/rest/v1/service/*', methods: ['GET'] }],
    })
    assert.equal(created.status, 200, created.text)
    assertMatchesSchema(Role, json(created))
    assert.deepEqual(json(created).permissions, [{ route: '/rest/v1/service/*', methods: ['GET'] }])
    const ann = client((await userWith(root, 'ann', ['reader'])).key)

    assert.equal(jsonArray(await ann.get(CHANNELS)).length, 1)
    assert.equal(json(await ann.get(`${CHANNELS}/${String(channel.id)}`)).code, 'shop')
    assert.equal(json(await ann.post(`${CHANNELS}/lookup`, { code: 'shop' })).id, channel.id, 'GET allows the lookup')
    assert.equal((await ann.get(SCRIPTS)).status, 200)
    assert.equal((await ann.get('/rest/v1/service/license')).status, 200)
    assert.deepEqual((await ann.post(CHANNELS, { code: 'mine', type: 'public' })).body, {
      error_code: 1403,
      error_message: "the key's roles do not allow POST /rest/v1/service/integration_points",
    })
    assert.deepEqual((await ann.patch(`${CHANNELS}/${String(channel.id)}`, { opts: { title: 'x' } })).body, {
      error_code: 1403,
      error_message: `the key's roles do not allow PATCH /rest/v1/service/integration_points/${String(channel.id)}`,
    })
    assertError(await ann.delete(`${CHANNELS}/${String(channel.id)}`), 403, /roles do not allow DELETE/)
    assertError(await ann.get(USERS), 403, /roles do not allow GET \/rest\/v1\/iam\/users/)
    assertError(await ann.get(ROLES), 403)
    assertError(await ann.post(SCRIPTS, { code: 's', source: 'return 1' }), 403)
    assertError(await ann.get(DOMAINS), 403, /master rights/)
    const nobody = client((await userWith(root, 'nobody', [])).key)
    assertError(await nobody.get(CHANNELS), 403, /roles do not allow/, undefined)
    // Refused before the body is read: a malformed body is not even parsed.
    assertError(await ann.request('POST', CHANNELS, '{broken'), 403)
    assert.equal(jsonArray(await root.get(CHANNELS)).length, 1, 'nothing was created')

    // A role changed by PATCH applies to the next request.
    const role = json(created)
    const patched = await root.patch(`${ROLES}/${String(role.id)}`, {
      permissions: [
        { route: '/rest/v1/service/*', methods: ['GET'] },
        { route: '/rest/v1/service/svcscripts', methods: ['POST'] },
        { route: '/rest/v1/service/svcscripts/*/run', methods: ['POST'] },
      ],
    })
    assert.equal(patched.status, 200, patched.text)
    const script = await ann.post(SCRIPTS, { code: 'double', source: 'return startparam(1) * 2' })
    assert.equal(script.status, 200, script.text)
    const run = await ann.post(`${SCRIPTS}/${String(json(script).id)}/run`, { startparams: [21] })
    assert.deepEqual(json(run).variables, { result: 42 })
    assertError(await ann.patch(`${SCRIPTS}/${String(json(script).id)}`, { source: 'return 0' }), 403)

    // A role held by a user can be neither deleted nor renamed; once nobody holds it, it can.
    assertError(await root.delete(`${ROLES}/${String(role.id)}`), 409, /role 'reader' is held by user ann/)
    assertError(await root.patch(`${ROLES}/${String(role.id)}`, { code: 'viewer' }), 409, /held by user ann/)
    const annUser = json(await root.post(`${USERS}/lookup`, { login: 'ann' }))
    await root.patch(`${USERS}/${String(annUser.id)}`, { roles: [] })
    assertError(await ann.get(CHANNELS), 403, /roles do not allow GET/)
    assert.equal((await root.delete(`${ROLES}/${String(role.id)}`)).status, 200)
  })

  it('validates roles and the role codes users and channels name', async (t) => {
    const { root } = await startServer(t)
    assertError(await root.post(ROLES, { code: 'admin' }), 409, /role 'admin' is built in/)
    assertError(
      await root.post(ROLES, { code: 'r', permissions: [{ route: '/rest/v1/*', methods: ['FETCH'] }] }),
      400,
      undefined,
      'permissions.0.methods.0',
    )
    assertError(await root.post(ROLES, { code: 'r', permissions: [{ route: '/rest/v1/*', methods: [] }] }), 400)
    assertError(await root.post(ROLES, { code: 'r', permissions: [{ route: '/rest/v1/*', methods: ['GET', 'GET'] }] }), 400)
    assertError(await root.post(ROLES, { code: 'r', permissions: [{ route: '/rest/v1/*' }] }), 400, /methods is required/)
    assert.deepEqual(
      (
        await root.post(ROLES, {
          code: 'r',
          permissions: [
            { route: '/rest/v1/service/*', methods: ['GET'] },
            { route: '/rest/v1/integration_*', methods: ['GET'] },
          ],
        })
      ).body,
      {
        error_code: 1400,
        error_message: 'permissions.1.route may use * only as a whole segment',
        error_details: [{ field: 'permissions.1.route', message: 'may use * only as a whole segment' }],
      },
    )
    assertError(
      await root.post(ROLES, { code: 'r', permissions: [{ route: '/ws#chat', methods: ['WEBSOCKET'] }] }),
      400,
      /no websocket capability/,
    )
    assertError(await root.post(ROLES, { code: 'r', permissions: [{ route: '/ws#rest', methods: ['GET'] }] }), 400, /WEBSOCKET/)
    assertError(
      await root.post(ROLES, { code: 'r', permissions: [{ route: 'rest/v1', methods: ['GET'] }] }),
      400,
      /starting with/,
    )
    assertError(await root.post(ROLES, { code: 'has space' }), 400, undefined, 'code')
    assertError(await root.post(ROLES, { code: 'r', extra: 1 }), 400, /extra is not a known field/)

    const ops = json(await root.post(ROLES, { code: 'ops', permissions: [{ route: '/ws#*', methods: ['WEBSOCKET'] }] }))
    assert.deepEqual(ops.name, '')
    assertError(await root.post(ROLES, { code: 'ops' }), 409, /role with code 'ops' already exists/)
    assertError(await root.post(USERS, { login: 'u', roles: ['ops', 'nope'] }), 400, /'nope' is not a known role/, 'roles')
    assert.equal((await root.post(USERS, { login: 'u', roles: ['ops', 'admin'] })).status, 200)
    assertError(
      await root.post(CHANNELS, { code: 'c', type: 'public', opts: { roles: ['nope'] } }),
      400,
      /not a known role/,
      'opts.roles',
    )
    assert.equal((await root.post(CHANNELS, { code: 'c', type: 'public', opts: { roles: ['ops'] } })).status, 200)
    assertError(await root.delete(`${ROLES}/${String(ops.id)}`), 409, /held by user u, channel c/)
    assert.equal(json(await root.post(`${ROLES}/lookup`, { code: 'ops' })).id, ops.id)
  })

  it('keeps roles inside their domain, and master rights for the master domain', async (t) => {
    const { root, client } = await startServer(t)
    await root.post(DOMAINS, { name: 'acme' })
    const acme = client(ROOT_KEY, { 'switchboard-domain': 'acme' })
    assert.equal((await acme.post(ROLES, { code: 'everything', permissions: [{ route: '/*', methods: ['*'] }] })).status, 200)
    assertError(await root.post(USERS, { login: 'x', roles: ['everything'] }), 400, /not a known role/)
    const bob = client((await userWith(acme, 'bob', ['everything'])).key)
    assert.equal((await bob.post(CHANNELS, { code: 'c', type: 'public' })).status, 200)
    assert.equal(jsonArray(await root.get(CHANNELS)).length, 0, 'the channel went to acme')
    assertError(
      await client((await userWith(acme, 'bob2', ['everything'])).key, { 'switchboard-domain': 'default' }).get(CHANNELS),
      403,
      /acts in domain 'acme' only/,
    )
    assertError(await bob.get(DOMAINS), 403, /master rights/, undefined)

    const master = client(ROOT_KEY, { 'switchboard-domain': 'master' })
    await master.post(ROLES, { code: 'domain-reader', permissions: [{ route: '/rest/v1/master/domains', methods: ['GET'] }] })
    const auditor = client((await userWith(master, 'auditor', ['domain-reader'])).key)
    assert.deepEqual(
      jsonArray(await auditor.get(DOMAINS)).map((domain) => domain.name),
      ['acme', 'default', 'master'],
    )
    assertError(await auditor.post(DOMAINS, { name: 'new' }), 403, /master rights/)
    assertError(await auditor.get('/rest/v1/master/channel_types'), 403, /master rights/)
  })
})
