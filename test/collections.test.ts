import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Svcscript } from '../src/scripts/svcscript-schemas.ts'
import { assertError, assertMatchesSchema } from './support/assertions.ts'
import { BACKENDS, json, jsonArray, SCRIPTS, startServer } from './support/server.ts'

const codes = (items: Record<string, unknown>[]) => items.map((item) => item.code)

for (const backend of BACKENDS) {
  describe(`collection conventions (SPEC §2) on ${backend}`, () => {
    it('creates with a generated or given id, sets ext.ct/ext.lwt and keeps client ext keys', async (t) => {
      const { root } = await startServer(t, { backend })
      const created = json(await root.post(SCRIPTS, { code: 'a', source: 'return 1', ext: { team: 'ops', ct: 'ignored' } }))
      assertMatchesSchema(Svcscript, created)
      assert.match(created.id as string, /^[0-9a-f-]{36}$/)
      const ext = created.ext as Record<string, string>
      assert.match(ext.ct as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
      assert.equal(ext.lwt, ext.ct)
      assert.equal(ext.team, 'ops')
      assert.deepEqual(created, {
        id: created.id,
        code: 'a',
        name: '',
        lang: 'js',
        source: 'return 1',
        opts: { title: '', comment: '', loglevel: 'info' },
        ext: { ct: ext.ct, lwt: ext.ct, team: 'ops' },
        version: 1,
      })
      const id = '3f2b8c1e-7d4a-4c6b-9e1f-2a3b4c5d6e7f'
      const given = json(await root.post(SCRIPTS, { id, code: 'b' }))
      assert.equal(given.id, id)
      assert.deepEqual(json(await root.get(`${SCRIPTS}/${id}`)), given)
    })

    it('lists with filter, order, offset, limit, mask, flat and X-Total-Count', async (t) => {
      const { root } = await startServer(t, { backend })
      for (const [code, lang, title] of [
        ['delta', 'ts', 'x'],
        ['alpha', 'js', 'y'],
        ['charlie', 'ts', 'x'],
        ['bravo', 'js', 'x'],
      ] as const) {
        assert.equal((await root.post(SCRIPTS, { code, lang, opts: { title } })).status, 200)
      }
      const all = await root.get(SCRIPTS)
      assert.equal(all.headers.get('x-total-count'), '4')
      assert.deepEqual(codes(jsonArray(all)), ['alpha', 'bravo', 'charlie', 'delta'])

      const filtered = await root.get(`${SCRIPTS}?filter=${encodeURIComponent('{"lang":"ts","opts.title":"x"}')}&order=-code`)
      assert.deepEqual(codes(jsonArray(filtered)), ['delta', 'charlie'])
      assert.equal(filtered.headers.get('x-total-count'), '2')

      const page = await root.get(`${SCRIPTS}?order=-lang,code&offset=1&limit=2`)
      assert.deepEqual(codes(jsonArray(page)), ['delta', 'alpha'])
      assert.equal(page.headers.get('x-total-count'), '4', 'the total ignores offset and limit')

      const masked = jsonArray(await root.get(`${SCRIPTS}?mask=code,opts.title&limit=1`))
      assert.deepEqual(masked, [{ code: 'alpha', opts: { title: 'y' } }])
      const flat = jsonArray(await root.get(`${SCRIPTS}?mask=code,opts&flat=true&limit=1`))
      assert.deepEqual(flat, [{ code: 'alpha', 'opts.title': 'y', 'opts.comment': '', 'opts.loglevel': 'info' }])

      const one = jsonArray(await root.get(`${SCRIPTS}?filter=${encodeURIComponent('{"code":"bravo"}')}`))[0] as Record<
        string,
        unknown
      >
      assert.deepEqual(json(await root.get(`${SCRIPTS}/${String(one.id)}?mask=code,ext.ct`)), {
        code: 'bravo',
        ext: { ct: (one.ext as Record<string, unknown>).ct },
      })
      const none = await root.get(`${SCRIPTS}?limit=0`)
      assert.deepEqual(jsonArray(none), [])
      assert.equal(none.headers.get('x-total-count'), '4')
    })

    it('refuses unknown or malformed filter, mask, order, paging and query parameters with 1400', async (t) => {
      const { root } = await startServer(t, { backend })
      const q = (query: string) => root.get(`${SCRIPTS}?${query}`)
      assertError(await q(`filter=${encodeURIComponent('{"nope":1}')}`), 400, /unknown field 'nope'/, 'filter')
      assertError(await q(`filter=${encodeURIComponent('{"opts.nope":1}')}`), 400, /unknown field 'opts.nope'/, 'filter')
      assertError(await q(`filter=${encodeURIComponent('{"code.x":1}')}`), 400, /'code' has no fields/, 'filter')
      assertError(await q('filter=not-json'), 400, /JSON object/, 'filter')
      assertError(await q(`filter=${encodeURIComponent('[1,2]')}`), 400, /JSON object/, 'filter')
      assertError(await q('mask=code,secret'), 400, /unknown field 'secret'/, 'mask')
      assertError(await q('mask=code,,id'), 400, /field names/, 'mask')
      assertError(await q('order=-nope'), 400, /unknown field 'nope'/, 'order')
      assertError(await q('order=-'), 400, /field names/, 'order')
      assertError(await q('limit=1001'), 400, /at most 1000/, 'limit')
      assertError(await q('limit=-1'), 400, undefined, 'limit')
      assertError(await q('offset=abc'), 400, undefined, 'offset')
      assertError(await q('flat=yes'), 400, undefined, 'flat')
      assertError(await q('limit=1&limit=2'), 400, undefined, 'limit')
      assertError(await q('bogus=1'), 400, /bogus/, 'bogus')
      // ext keys are the client's: any path below ext is a field.
      assert.equal((await q(`filter=${encodeURIComponent('{"ext.team":"x"}')}`)).status, 200)
    })

    it('merges PATCH objects key by key, deletes null keys, replaces other fields, bumps ext.lwt only', async (t) => {
      const { root } = await startServer(t, { backend })
      const created = json(
        await root.post(SCRIPTS, { code: 's', name: 'first', opts: { title: 'T', comment: 'C' }, ext: { a: 1, b: 2 } }),
      )
      const path = `${SCRIPTS}/${String(created.id)}`
      const patched = json(
        await root.patch(path, { name: 'second', opts: { comment: null, loglevel: 'debug' }, ext: { b: null, c: 3 } }),
      )
      const ext = patched.ext as Record<string, unknown>
      assert.deepEqual(patched, {
        ...created,
        name: 'second',
        opts: { title: 'T', comment: '', loglevel: 'debug' },
        ext: { ct: (created.ext as Record<string, unknown>).ct, lwt: ext.lwt, a: 1, c: 3 },
      })
      assert.ok((ext.lwt as string) >= (ext.ct as string))
      assert.deepEqual(json(await root.get(path)), patched)
      const reset = json(await root.patch(path, { name: null, opts: null, id: created.id }))
      assert.equal(reset.name, '')
      assert.deepEqual(reset.opts, { title: '', comment: '', loglevel: 'info' })
    })

    it('refuses bad PATCH bodies without changing anything', async (t) => {
      const { root } = await startServer(t, { backend })
      const created = json(await root.post(SCRIPTS, { code: 's' }))
      const path = `${SCRIPTS}/${String(created.id)}`
      assertError(await root.patch(path, { id: '3f2b8c1e-7d4a-4c6b-9e1f-2a3b4c5d6e7f' }), 400, /id cannot be changed/, 'id')
      assertError(await root.patch(path, { code: null }), 400, undefined, 'code')
      assertError(await root.patch(path, { nope: 1 }), 400, /nope/, 'nope')
      assertError(await root.patch(path, { opts: { nope: 1 } }), 400, undefined, 'opts.nope')
      assertError(await root.patch(path, { lang: 'python' }), 400, undefined, 'lang')
      assertError(await root.patch(path, { name: 5 }), 400, /string/, 'name')
      assertError(await root.patch(path, [1]), 400)
      assertError(await root.patch(`${SCRIPTS}/3f2b8c1e-7d4a-4c6b-9e1f-2a3b4c5d6e7f`, { name: 'x' }), 404, /does not exist/)
      assert.deepEqual(json(await root.get(path)), created)
    })

    it('deletes, answering the deleted entity, then 404s', async (t) => {
      const { root } = await startServer(t, { backend })
      const created = json(await root.post(SCRIPTS, { code: 's' }))
      const path = `${SCRIPTS}/${String(created.id)}`
      assert.deepEqual(json(await root.delete(path)), created)
      assertError(await root.get(path), 404, /script '.*' does not exist/)
      assertError(await root.delete(path), 404)
    })

    it('looks up by a unique key with POST …/lookup', async (t) => {
      const { root } = await startServer(t, { backend })
      const created = json(await root.post(SCRIPTS, { code: 'findme' }))
      assert.deepEqual(json(await root.post(`${SCRIPTS}/lookup`, { code: 'findme' })), {
        id: created.id,
        _links: { self: { href: `${SCRIPTS}/${String(created.id)}` } },
      })
      assertError(await root.post(`${SCRIPTS}/lookup`, { code: 'missing' }), 404, /no script with code 'missing'/)
      assertError(await root.post(`${SCRIPTS}/lookup`, { name: 'x' }), 400)
      assertError(await root.post(`${SCRIPTS}/lookup`, {}), 400)
      assertError(await root.post(`${SCRIPTS}/lookup`, { code: 'a', id: 'b' }), 400)
    })

    it('answers duplicates with 1409 and invalid input with 1400 naming the field', async (t) => {
      const { root } = await startServer(t, { backend })
      const created = json(await root.post(SCRIPTS, { code: 'dup' }))
      assertError(await root.post(SCRIPTS, { code: 'dup' }), 409, /script with code 'dup' already exists/, 'code')
      assertError(await root.post(SCRIPTS, { id: created.id, code: 'other' }), 409, /already exists/, 'id')
      assertError(await root.post(SCRIPTS, { code: 'bad code!' }), 400, /letters, digits/, 'code')
      assertError(await root.post(SCRIPTS, { code: '' }), 400, undefined, 'code')
      assertError(await root.post(SCRIPTS, { code: 'x'.repeat(65) }), 400, undefined, 'code')
      assertError(await root.post(SCRIPTS, {}), 400, /is required/, 'code')
      assertError(await root.post(SCRIPTS, { code: 'a', extra: true }), 400, /not a known field/, 'extra')
      assertError(await root.post(SCRIPTS, { code: 'a', id: 'not-a-uuid' }), 400, /must be a UUID/, 'id')
      assertError(await root.post(SCRIPTS, { code: 7 }), 400, /string/, 'code')
      assertError(await root.get(`${SCRIPTS}/not-a-uuid`), 400, /must be a UUID/, 'id')
      assert.equal(jsonArray(await root.get(SCRIPTS)).length, 1)
    })
  })
}
