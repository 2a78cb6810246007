import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { assertError } from './support/assertions.ts'
import { CHANNELS, json, jsonArray, SCRIPTS, startServer } from './support/server.ts'

const EXECUTIONS = '/rest/v1/service/executions'

describe('script versions', () => {
  it('keeps a version per saved source, lists them newest first, rolls back as a new version, and names it in executions', async (t) => {
    const { root, url, client } = await startServer(t)
    const created = json(await root.post(SCRIPTS, { code: 'greet', source: 'return "v1"' }))
    const id = String(created.id)
    assert.equal(created.version, 1)
    const channel = json(
      await root.post(CHANNELS, { code: 'greeter', type: 'public', recv_svcscriptcode: 'greet', opts: { issync: true } }),
    )
    const call = async () => {
      const response = await fetch(`${url}/exec/${String(channel.token_local)}`, { method: 'POST' })
      return { body: await response.text(), execution: response.headers.get('switchboard-execution-id') ?? '' }
    }
    const first = await call()
    assert.equal(first.body, 'v1')

    assert.equal(json(await root.patch(`${SCRIPTS}/${id}`, { source: 'return "v2"' })).version, 2)
    assert.equal(
      json(await root.patch(`${SCRIPTS}/${id}`, { opts: { title: 'Greeter' } })).version,
      2,
      'no new source: no new version',
    )
    assert.equal(json(await root.patch(`${SCRIPTS}/${id}`, { source: 'return "v3"', lang: 'ts' })).version, 3)
    const third = await call()
    assert.equal(third.body, 'v3')

    const versions = jsonArray(await root.get(`${SCRIPTS}/${id}/versions`))
    assert.deepEqual(
      versions.map((version) => [version.version, version.source, version.lang]),
      [
        [3, 'return "v3"', 'ts'],
        [2, 'return "v2"', 'js'],
        [1, 'return "v1"', 'js'],
      ],
    )
    assert.deepEqual(versions[0]?.actor, { kind: 'root', id: 'root' })
    assert.ok(!Number.isNaN(Date.parse(String(versions[0]?.saved_at))))

    const rolled = await root.post(`${SCRIPTS}/${id}/rollback`, { version: 1 })
    assert.equal(rolled.status, 200, rolled.text)
    assert.equal(json(rolled).version, 4)
    assert.equal(json(rolled).source, 'return "v1"')
    assert.equal(json(rolled).lang, 'js')
    const fourth = await call()
    assert.equal(fourth.body, 'v1', 'the rolled-back source runs')
    assert.equal(jsonArray(await root.get(`${SCRIPTS}/${id}/versions`)).length, 4)

    // Each execution names the version it ran.
    const versionOf = async (execution: string) => {
      for (;;) {
        const reply = await root.get(`${EXECUTIONS}/${execution}`)
        if (reply.status === 200) return json(reply).script_version
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    }
    assert.equal(await versionOf(first.execution), 1)
    assert.equal(await versionOf(third.execution), 3)
    assert.equal(await versionOf(fourth.execution), 4)

    assertError(await root.post(`${SCRIPTS}/${id}/rollback`, { version: 99 }), 404, /no version 99/)
    assertError(await root.post(`${SCRIPTS}/${id}/rollback`, { version: 0 }), 400, /version/)
    assertError(await root.post(`${SCRIPTS}/${id}/rollback`, {}), 400, /version/)
    assertError(await root.get(`${SCRIPTS}/00000000-0000-4000-8000-000000000000/versions`), 404)
    assertError(await root.get(`${SCRIPTS}/not-a-uuid/versions`), 400)
    assertError(await client().get(`${SCRIPTS}/${id}/versions`), 401)
    assertError(await client().post(`${SCRIPTS}/${id}/rollback`, { version: 1 }), 401)

    // A deleted script takes its versions with it.
    await root.patch(`${CHANNELS}/${String(channel.id)}`, { recv_svcscriptcode: '' })
    assert.equal((await root.delete(`${SCRIPTS}/${id}`)).status, 200)
    assertError(await root.get(`${SCRIPTS}/${id}/versions`), 404)
  })
})
