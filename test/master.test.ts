import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Domain } from '../src/domains/domain-schemas.ts'
import { assertError, assertMatchesSchema } from './support/assertions.ts'
import { CHANNEL_TYPES, CHANNELS, DOMAINS, json, jsonArray, ROOT_KEY, startServer } from './support/server.ts'

describe('master collections', () => {
  it('creates master and default on first start and manages other domains', async (t) => {
    const { root, client } = await startServer(t)
    const builtIn = jsonArray(await root.get(DOMAINS))
    assert.deepEqual(
      builtIn.map((d) => d.name),
      ['default', 'master'],
    )
    for (const domain of builtIn) assertMatchesSchema(Domain, domain)
    const acme = json(await root.post(DOMAINS, { name: 'acme', license: { public: 5 }, opts: { title: 'ACME' } }))
    assert.deepEqual(acme, {
      id: acme.id,
      name: 'acme',
      license: { public: 5 },
      opts: { title: 'ACME', comment: '' },
      ext: acme.ext,
    })
    assertError(await root.post(DOMAINS, { name: 'acme' }), 409, /domain with name 'acme' already exists/)
    assertError(await root.post(DOMAINS, { name: 'Bad Name' }), 400, undefined, 'name')
    assertError(await root.post(DOMAINS, { name: 'x', license: { public: -1 } }), 400, undefined, 'license.public')
    assertError(await root.post(DOMAINS, { name: 'x', license: { public: 'many' } }), 400, undefined, 'license.public')
    const path = `${DOMAINS}/${String(acme.id)}`
    const merged = json(await root.patch(path, { license: { eventing: 2, public: null } }))
    assert.deepEqual(merged.license, { eventing: 2 })
    assert.equal(json(await root.patch(path, { name: 'acme-corp' })).name, 'acme-corp')
    assert.equal((await client(ROOT_KEY, { 'switchboard-domain': 'acme-corp' }).get(CHANNELS)).status, 200)
    assertError(await client(ROOT_KEY, { 'switchboard-domain': 'acme' }).get(CHANNELS), 404)
    assert.deepEqual(json(await root.post(`${DOMAINS}/lookup`, { name: 'acme-corp' })).id, acme.id)
  })

  it('protects the built-in domains and refuses deleting a domain that holds anything', async (t) => {
    const { root, client } = await startServer(t)
    const [defaultDomain, master] = jsonArray(await root.get(DOMAINS))
    assertError(await root.patch(`${DOMAINS}/${String(master?.id)}`, { name: 'boss' }), 400, /cannot be renamed/, 'name')
    assertError(await root.delete(`${DOMAINS}/${String(defaultDomain?.id)}`), 400, /cannot be deleted/)
    assert.equal((await root.patch(`${DOMAINS}/${String(master?.id)}`, { opts: { title: 'Master' } })).status, 200)
    const temp = json(await root.post(DOMAINS, { name: 'temp' }))
    const tempRoot = client(ROOT_KEY, { 'switchboard-domain': 'temp' })
    const channel = json(await tempRoot.post(CHANNELS, { code: 'c', type: 'public' }))
    assertError(await root.delete(`${DOMAINS}/${String(temp.id)}`), 409, /not empty \(1 integration_points\)/)
    await tempRoot.delete(`${CHANNELS}/${String(channel.id)}`)
    assert.equal(json(await root.delete(`${DOMAINS}/${String(temp.id)}`)).name, 'temp')
    assertError(await tempRoot.get(CHANNELS), 404, /domain 'temp' does not exist/)
  })

  it('manages solution-defined channel types, unique by type and never a built-in name', async (t) => {
    const { root } = await startServer(t)
    const created = json(await root.post(CHANNEL_TYPES, { type: 'whatsapp', issync: true }))
    assert.deepEqual(created, {
      id: created.id,
      type: 'whatsapp',
      recv_svcscriptcode: '',
      recv_svcscriptcode_ws: '',
      send_svcscriptcode: '',
      send_svcscriptcode_ws: '',
      url: '',
      issync: true,
      recv_timeout: 0,
      relative_urls_only: false,
      ext: created.ext,
    })
    assertError(await root.post(CHANNEL_TYPES, { type: 'whatsapp' }), 409, /already exists/)
    assertError(await root.post(CHANNEL_TYPES, { type: 'public' }), 400, /built-in/, 'type')
    assertError(await root.post(CHANNEL_TYPES, { type: 'x', url: 'mailto:a@b' }), 400, undefined, 'url')
    assertError(await root.post(CHANNEL_TYPES, { type: 'x', recv_timeout: 100 }), 400, undefined, 'recv_timeout')
    assert.equal(json(await root.post(`${CHANNEL_TYPES}/lookup`, { type: 'whatsapp' })).id, created.id)
    await root.post(CHANNELS, { code: 'wa', type: 'whatsapp' })
    assertError(await root.patch(`${CHANNEL_TYPES}/${String(created.id)}`, { type: 'wa2' }), 409, /cannot be renamed/)
    assert.deepEqual(jsonArray(await root.get('/rest/v1/service/license')), [
      { type: 'eventing', limit: null, used: 0 },
      { type: 'public', limit: null, used: 0 },
      { type: 'whatsapp', limit: null, used: 1 },
    ])
  })
})
