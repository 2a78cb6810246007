import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { assertError } from './support/assertions.ts'
import { AUDIT, auditOf } from './support/iam.ts'
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

describe('audit log (SPEC §2, §10)', () => {
  it('records who created, changed and deleted what, with the changed fields, their values before and after, and never a secret', async (t) => {
    const { root, client } = await startServer(t)
    const user = json(await root.post(USERS, { login: 'ann', roles: ['admin'] }))
    const key = json(await root.post(API_KEYS, { userid: user.id, name: 'laptop' }))
    const ann = client(key.key as string)

    const channel = json(await root.post(CHANNELS, { code: 'shop', type: 'public', token_remote: 'remote-secret-value' }))
    const id = channel.id as string
    assert.equal((await ann.patch(`${CHANNELS}/${id}`, { opts: { title: 'Shop' }, ext: { team: 'a' } })).status, 200)
    const rotated = json(await ann.patch(`${CHANNELS}/${id}`, { token_local: null }))
    assert.equal((await ann.patch(`${CHANNELS}/${id}`, { opts: { title: 'Shop' } })).status, 200)
    assert.equal((await root.delete(`${CHANNELS}/${id}`)).status, 200)

    const entries = await auditOf(root, id)
    const userActor = { kind: 'user', id: user.id, key_id: key.id }
    const create = entries[0] as {
      fields: string[]
      changes: { field: string; before?: unknown; after?: unknown; withheld?: string }[]
    }
    assert.deepEqual(entries, [
      {
        actor: { kind: 'root', id: 'root' },
        collection: 'integration_points',
        entity_id: id,
        operation: 'create',
        fields: create.fields,
        changes: create.changes,
      },
      {
        actor: userActor,
        collection: 'integration_points',
        entity_id: id,
        operation: 'update',
        fields: ['opts.title', 'ext.team'],
        changes: [
          { field: 'opts.title', before: '', after: 'Shop' },
          { field: 'ext.team', after: 'a' },
        ],
      },
      {
        actor: userActor,
        collection: 'integration_points',
        entity_id: id,
        operation: 'update',
        fields: ['token_local'],
        changes: [{ field: 'token_local', withheld: 'secret' }],
      },
      { actor: userActor, collection: 'integration_points', entity_id: id, operation: 'update', fields: [], changes: [] },
      {
        actor: { kind: 'root', id: 'root' },
        collection: 'integration_points',
        entity_id: id,
        operation: 'delete',
        fields: [],
        changes: [],
      },
    ])
    // A create shows what was set; secrets never.
    assert.deepEqual(create.changes.slice(0, 4), [
      { field: 'code', after: 'shop' },
      { field: 'type', after: 'public' },
      { field: 'token_local', withheld: 'secret' },
      { field: 'token_remote', withheld: 'secret' },
    ])
    assert.deepEqual(
      create.changes.map((change) => change.field),
      create.fields,
    )
    assert.deepEqual(create.fields.slice(0, 4), ['code', 'type', 'token_local', 'token_remote'])
    assert.ok(create.fields.includes('opts.allow_files_api'))
    assert.ok(!create.fields.includes('id') && !create.fields.includes('ext.ct'))
    const everything = (await root.get(`${AUDIT}?limit=1000`)).text
    for (const secret of [channel.token_local, rotated.token_local, 'remote-secret-value', key.key]) {
      assert.equal(everything.includes(secret as string), false, 'no secret value is in the log')
    }
    // API keys: the hash and the once-shown key are never named.
    assert.deepEqual((await auditOf(root, key.id as string))[0], {
      actor: { kind: 'root', id: 'root' },
      collection: 'api_keys',
      entity_id: key.id,
      operation: 'create',
      fields: ['userid', 'name', 'last_used_at'],
      changes: [
        { field: 'userid', after: user.id },
        { field: 'name', after: 'laptop' },
        { field: 'last_used_at', after: null },
      ],
    })
    // A long value (a script's source) is named without its values.
    const script = json(await root.post(SCRIPTS, { code: 'long', source: `return ${'1 + '.repeat(100)}1` }))
    const [scriptCreate] = await auditOf(root, script.id as string)
    const scriptChanges = (scriptCreate?.changes ?? []) as unknown[]
    assert.deepEqual(scriptChanges.slice(0, 2), [
      { field: 'code', after: 'long' },
      { field: 'name', after: '' },
    ])
    assert.ok(scriptChanges.some((change) => JSON.stringify(change) === '{"field":"source","withheld":"long"}'))
  })

  it('is a read-only collection with the usual conventions, read by those whose roles allow it', async (t) => {
    const { root, client } = await startServer(t)
    await root.post(SCRIPTS, { code: 'a', source: 'return 1' })
    await root.post(SCRIPTS, { code: 'b', source: 'return 2' })
    const page = await root.get(
      `${AUDIT}?filter=${encodeURIComponent('{"collection":"svcscripts"}')}&mask=collection,operation&limit=1`,
    )
    assert.deepEqual(page.body, [{ collection: 'svcscripts', operation: 'create' }])
    assert.equal(page.headers.get('x-total-count'), '2')
    const flat = jsonArray(
      await root.get(`${AUDIT}?filter=${encodeURIComponent('{"actor.kind":"root"}')}&flat=true&mask=actor.kind&limit=1`),
    )
    assert.deepEqual(flat, [{ 'actor.kind': 'root' }])
    const [newest] = jsonArray(await root.get(`${AUDIT}?limit=1`))
    assert.deepEqual(json(await root.get(`${AUDIT}/${String(newest?.id)}`)), newest)
    assertError(await root.post(AUDIT, {}), 404)
    assertError(await root.patch(`${AUDIT}/${String(newest?.id)}`, {}), 404)
    assertError(await root.delete(`${AUDIT}/${String(newest?.id)}`), 404)
    assertError(await root.get(`${AUDIT}?filter=${encodeURIComponent('{"secret":1}')}`), 400, /unknown field/)

    const reader = json(
      await root.post('/rest/v1/iam/roles', { code: 'auditor', permissions: [{ route: AUDIT, methods: ['GET'] }] }),
    )
    assert.ok(reader.id)
    const u = json(await root.post(USERS, { login: 'aud', roles: ['auditor'] }))
    const k = json(await root.post(API_KEYS, { userid: u.id }))
    assert.equal((await client(k.key as string).get(AUDIT)).status, 200)
    assertError(await client(k.key as string).get(CHANNELS), 403)
  })

  it('keeps master changes in the master domain, cascades in their domains, files by channel', async (t) => {
    const { root, client, url } = await startServer(t)
    const master = client(ROOT_KEY, { 'switchboard-domain': 'master' })
    const acme = json(await root.post(DOMAINS, { name: 'acme' }))
    assert.deepEqual(
      (await auditOf(master, acme.id as string)).map((e) => [e.collection, e.operation]),
      [['domains', 'create']],
    )
    assert.deepEqual(await auditOf(root, acme.id as string), [], 'not in the domain the root key acted in')

    // A channel type change rewrites its channels: each rewrite is audited in the channel's domain.
    await root.post(SCRIPTS, { code: 'one', source: 'return 1' })
    await root.post(SCRIPTS, { code: 'two', source: 'return 2' })
    const type = json(await root.post(CHANNEL_TYPES, { type: 'crm', recv_svcscriptcode: 'one' }))
    const channel = json(await root.post(CHANNELS, { code: 'crm-1', type: 'crm' }))
    assert.equal((await root.patch(`${CHANNEL_TYPES}/${String(type.id)}`, { recv_svcscriptcode: 'two' })).status, 200)
    assert.deepEqual((await auditOf(root, channel.id as string)).at(-1), {
      actor: { kind: 'root', id: 'root' },
      collection: 'integration_points',
      entity_id: channel.id,
      operation: 'update',
      fields: ['recv_svcscriptcode'],
      changes: [{ field: 'recv_svcscriptcode', before: 'one', after: 'two' }],
    })
    assert.deepEqual(
      (await auditOf(master, type.id as string)).map((e) => e.fields),
      [
        [
          'type',
          'recv_svcscriptcode',
          'recv_svcscriptcode_ws',
          'send_svcscriptcode',
          'send_svcscriptcode_ws',
          'url',
          'issync',
          'recv_timeout',
          'relative_urls_only',
        ],
        ['recv_svcscriptcode'],
      ],
    )

    // Files written and deleted through the files API are the channel's changes.
    const files = json(await root.post(CHANNELS, { code: 'drop', type: 'public', opts: { allow_files_api: true } }))
    const auth = { authorization: `Bearer ${String(files.token_local)}` }
    await rawRequest(url, 'PUT', '/files/in/a.txt', auth, 'a')
    await rawRequest(url, 'PUT', '/files/in/a.txt', auth, 'b')
    await rawRequest(url, 'DELETE', '/files/in/a.txt', auth)
    const actor = { kind: 'channel', id: files.id }
    assert.deepEqual(await auditOf(root, 'in/a.txt'), [
      { actor, collection: 'files', entity_id: 'in/a.txt', operation: 'create', fields: ['content'] },
      { actor, collection: 'files', entity_id: 'in/a.txt', operation: 'update', fields: ['content'] },
      { actor, collection: 'files', entity_id: 'in/a.txt', operation: 'delete', fields: [] },
    ])
  })
})
