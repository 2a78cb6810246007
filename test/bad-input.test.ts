import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { assertError } from './support/assertions.ts'
import {
  API_KEYS,
  CHANNEL_TYPES,
  CHANNELS,
  DOMAINS,
  httpClient,
  json,
  jsonArray,
  ROOT_KEY,
  SCRIPTS,
  startServer,
  USERS,
} from './support/server.ts'

/** A valid create body per collection, and a field that takes a string. */
const COLLECTIONS = [
  { path: CHANNELS, body: { code: 'c1', type: 'public' }, text: 'code', lookup: { code: 'c1' } },
  { path: SCRIPTS, body: { code: 's1' }, text: 'code', lookup: { code: 's1' } },
  { path: USERS, body: { login: 'u1' }, text: 'login', lookup: { login: 'u1' } },
  { path: DOMAINS, body: { name: 'd1' }, text: 'name', lookup: { name: 'd1' } },
  { path: CHANNEL_TYPES, body: { type: 't1' }, text: 'type', lookup: { type: 't1' } },
  { path: API_KEYS, body: undefined, text: 'name', lookup: undefined },
] as const

const MISSING_ID = '3f2b8c1e-7d4a-4c6b-9e1f-2a3b4c5d6e7f'

describe('bad input on every endpoint', () => {
  it('answers each kind of bad input with its code and the JSON error shape', async (t) => {
    const { root, url, client } = await startServer(t, { config: { restBodyLimit: 16 * 1024 } })
    const anonymous = httpClient(url)
    const wrongKey = client('sbk_not-a-real-key')
    const nowhere = client(ROOT_KEY, { 'switchboard-domain': 'nowhere' })
    const user = json(await root.post(USERS, { login: 'owner' }))
    const big = 'x'.repeat(17 * 1024)

    for (const { path, body: given, text, lookup } of COLLECTIONS) {
      const body: Record<string, unknown> = given ?? { userid: user.id }
      const created = json(await root.post(path, body))
      const item = `${path}/${String(created.id)}`
      const routes: [string, string, unknown][] = [
        ['GET', path, undefined],
        ['GET', item, undefined],
        ['POST', path, body],
        ['PATCH', item, {}],
        ['DELETE', item, undefined],
        ...(lookup ? [['POST', `${path}/lookup`, lookup] as [string, string, unknown]] : []),
      ]
      for (const [method, route, payload] of routes) {
        const label = `${method} ${route}`
        assertError(await anonymous.request(method, route, payload), 401, undefined, undefined)
        assertError(await wrongKey.request(method, route, payload), 401)
        assertError(await client(undefined, { authorization: `Token ${ROOT_KEY}` }).request(method, route, payload), 401)
        if (!path.startsWith('/rest/v1/master/'))
          assertError(await nowhere.request(method, route, payload), 404, /domain 'nowhere'/)
        if (payload !== undefined) {
          assertError(await root.request(method, route, '{"a":'), 400, /not valid JSON/, undefined)
          assertError(await root.request(method, route, { ...(payload as object), [text]: 42 }), 400, /string/, text)
          assertError(await root.request(method, route, { ...(payload as object), surprise: 1 }), 400, /known field/, 'surprise')
          assertError(await root.request(method, route, { ...(payload as object), [text]: big }), 413, undefined, undefined)
          assertError(await root.request(method, route, '[]', { 'content-type': 'application/json' }), 400, undefined, undefined)
        }
        if (route === item) assertError(await root.request(method, `${path}/not-a-uuid`, payload), 400, /UUID/, 'id')
        if (route === item && method !== 'PATCH') assertError(await root.request(method, `${path}/${MISSING_ID}`, payload), 404)
        assert.ok(true, label)
      }
      for (const query of ['filter={"nope":1}', 'mask=nope', 'order=nope', 'limit=5000', 'offset=-1', 'filter=[']) {
        assertError(await root.get(`${path}?${query}`), 400)
      }
      if (given) assertError(await root.post(path, body), 409, /already exists/)
      assertError(await root.post(path, { ...body, id: created.id, [text]: `${String(body[text] ?? 'k')}-2` }), 409, /id/)
    }

    for (const route of ['/rest/v1/service/license', '/rest/v1/service/integration_tokens/abc']) {
      assertError(await anonymous.get(route), 401)
      assertError(await nowhere.get(route), 404)
    }
  })

  it('guards the script run endpoint and the read-only executions collection', async (t) => {
    const { root, url, client } = await startServer(t, { config: { restBodyLimit: 16 * 1024 } })
    const anonymous = httpClient(url)
    const nowhere = client(ROOT_KEY, { 'switchboard-domain': 'nowhere' })
    const script = json(await root.post(SCRIPTS, { code: 'double', source: 'return startparam(1) * 2' }))
    const run = `${SCRIPTS}/${String(script.id)}/run`
    const ran = json(await root.post(run, { startparams: [21] }))
    assert.deepEqual(ran.variables, { result: 42 })

    assertError(await anonymous.post(run, {}), 401)
    assertError(await client('sbk_not-a-real-key').post(run, {}), 401)
    assertError(await nowhere.post(run, {}), 404, /domain 'nowhere'/)
    assertError(await root.request('POST', run, '{"startparams":'), 400, /not valid JSON/)
    assertError(await root.post(run, { startparams: 'x' }), 400, /array/, 'startparams')
    assertError(await root.post(run, { startparams: Array.from({ length: 21 }, () => 1) }), 400, undefined, 'startparams')
    assertError(await root.post(run, { timeout: 0 }), 400, undefined, 'timeout')
    assertError(await root.post(run, { timeout: 60_001 }), 400, undefined, 'timeout')
    assertError(await root.post(run, { timeout: '5' }), 400, undefined, 'timeout')
    assertError(await root.post(run, { channel: 42 }), 400, undefined, 'channel')
    assertError(await root.post(run, { startparams: ['x'.repeat(17 * 1024)] }), 413)
    const deep = `{"startparams":[${'['.repeat(2000)}${']'.repeat(2000)}]}`
    assertError(await root.request('POST', run, deep), 400, /more than 512 deep/)
    assertError(await root.post(`${SCRIPTS}/${MISSING_ID}/run`, {}), 404)
    assertError(await root.post(`${SCRIPTS}/not-a-uuid/run`, {}), 400, /UUID/, 'id')

    const executions = '/rest/v1/service/executions'
    const [execution] = jsonArray(await root.get(executions))
    const item = `${executions}/${String(execution?.id)}`
    assert.equal(json(await root.get(item)).script_code, 'double')
    for (const route of [executions, item]) {
      assertError(await anonymous.get(route), 401)
      assertError(await nowhere.get(route), 404, /domain 'nowhere'/)
    }
    for (const query of ['filter={"nope":1}', 'mask=nope', 'order=nope', 'limit=5000', 'filter=[']) {
      assertError(await root.get(`${executions}?${query}`), 400)
    }
    assertError(await root.get(`${executions}/${MISSING_ID}`), 404)
    assertError(await root.get(`${executions}/not-a-uuid`), 400, /UUID/, 'id')
    for (const [method, route] of [
      ['POST', executions],
      ['PATCH', item],
      ['DELETE', item],
    ] as const) {
      assertError(await root.request(method, route, method === 'DELETE' ? undefined : {}), 404)
    }
    assert.equal(jsonArray(await root.get(executions)).length, 1, 'nothing was written or removed')
  })

  it('never answers garbage with a 500 or a non-JSON error', async (t) => {
    const { root } = await startServer(t)
    const garbage = [
      '',
      'null',
      '0',
      '"x"',
      '[[[[[]]]]]',
      '{"code":{"$gt":""}}',
      `{"code":"${'é'.repeat(70)}"}`,
      '\u0000',
      '{"a":1e999}',
      `{${'"a":1,'.repeat(3)}"a":2}`,
      '{"opts":[]}',
      '{"ext":"str"}',
      '{"code":"x","type":"public","ipmask":[null]}',
    ]
    const paths = [CHANNELS, SCRIPTS, USERS, API_KEYS, DOMAINS, CHANNEL_TYPES]
    for (const path of paths) {
      for (const body of garbage) {
        for (const method of ['POST', 'PATCH']) {
          const target = method === 'POST' ? path : `${path}/${MISSING_ID}`
          const reply = await root.request(method, target, body, { 'content-type': 'application/json' })
          assert.ok(
            reply.status >= 400 && reply.status < 500,
            `${method} ${target} ${JSON.stringify(body)} → ${reply.status} ${reply.text}`,
          )
          assert.match(reply.headers.get('content-type') ?? '', /^application\/json/)
          assert.equal((reply.body as { error_code: number }).error_code, 1000 + reply.status)
        }
      }
    }
  })
})
