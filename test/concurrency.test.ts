import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { assertError } from './support/assertions.ts'
import { BACKENDS, CHANNELS, DOMAINS, json, jsonArray, type Reply, ROOT_KEY, SCRIPTS, startServer } from './support/server.ts'

const AUDIT = '/rest/v1/service/audit'

function etagOf(reply: Reply): string {
  const etag = reply.headers.get('etag')
  assert.ok(etag !== null, `no ETag on ${reply.status}: ${reply.text.slice(0, 200)}`)
  assert.match(etag, /^"[^"]+"$/, 'a strong entity tag')
  return etag
}

/** The audit entries of one entity, oldest first, as `operation fields`. */
async function auditOf(root: { get(path: string): Promise<Reply> }, id: string): Promise<string[]> {
  const filter = encodeURIComponent(JSON.stringify({ entity_id: id }))
  const entries = jsonArray(await root.get(`${AUDIT}?filter=${filter}&order=ts&mask=operation,fields`))
  return entries.map((entry) => `${String(entry.operation)} ${(entry.fields as string[]).join(',')}`)
}

for (const backend of BACKENDS) {
  describe(`concurrent writes (SPEC §2) on ${backend}`, () => {
    it('answers an ETag on GET and on every write, and refuses a stale If-Match with 1412, changing nothing', async (t) => {
      const { root } = await startServer(t, { backend })
      const createdReply = await root.post(SCRIPTS, { code: 's', name: 'first' })
      const created = json(createdReply)
      const path = `${SCRIPTS}/${String(created.id)}`
      const first = etagOf(createdReply)
      assert.equal(etagOf(await root.get(path)), first)
      assert.equal(etagOf(await root.get(`${path}?mask=name`)), first, 'every view of the entity has its ETag')

      const patchedReply = await root.request('PATCH', path, { name: 'second' }, { 'if-match': first })
      assert.equal(json(patchedReply).name, 'second')
      const second = etagOf(patchedReply)
      assert.notEqual(second, first)
      const current = await root.get(path)
      assert.equal(etagOf(current), second)

      // A write over an ETag that is gone: 412, and neither the entity nor its ETag nor the audit changes.
      const auditBefore = await auditOf(root, created.id as string)
      const stale = await root.request('PATCH', path, { name: 'lost' }, { 'if-match': first })
      assertError(stale, 412)
      assert.deepEqual(stale.body, {
        error_code: 1412,
        error_message: `script '${String(created.id)}' has changed since ETag ${first} (it is now ${second}); read it again and retry`,
      })
      assertError(await root.request('DELETE', path, undefined, { 'if-match': first }), 412, /has changed since ETag/)
      // A weak tag never matches (strong comparison, RFC 9110 §13.1.1).
      assertError(await root.request('PATCH', path, { name: 'weak' }, { 'if-match': `W/${second}` }), 412)
      const after = await root.get(path)
      assert.deepEqual(after.body, current.body)
      assert.equal(etagOf(after), second)
      assert.deepEqual(await auditOf(root, created.id as string), auditBefore)
      assert.deepEqual(auditBefore, ['create code,name,lang,source,opts.title,opts.comment,opts.loglevel,version', 'update name'])

      // Any one of several tags, or *, will do; a malformed header is bad input.
      const listed = await root.request('PATCH', path, { name: 'third' }, { 'if-match': `"other", ${second}` })
      assert.equal(json(listed).name, 'third')
      const third = etagOf(listed)
      assertError(
        await root.request('PATCH', path, { name: 'x' }, { 'if-match': third.slice(1, -1) }),
        400,
        /^If-Match must be \* or a comma-separated list of ETags in double quotes/,
      )
      const starred = await root.request('PATCH', path, { name: 'fourth' }, { 'if-match': '*' })
      assert.equal(json(starred).name, 'fourth')
      const fourth = etagOf(starred)

      // DELETE with the current ETag answers the deleted entity with that ETag; then 404 whatever If-Match says.
      const deleted = await root.request('DELETE', path, undefined, { 'if-match': fourth })
      assert.equal(json(deleted).name, 'fourth')
      assert.equal(etagOf(deleted), fourth)
      assertError(await root.request('PATCH', path, { name: 'x' }, { 'if-match': fourth }), 404, /does not exist/)

      // The same id created again never takes an old ETag.
      const again = await root.post(SCRIPTS, { id: created.id, code: 's' })
      assert.ok(![first, second, third, fourth].includes(etagOf(again)))
      assertError(await root.request('PATCH', path, { name: 'x' }, { 'if-match': fourth }), 412)
    })

    it('keeps every field of 2×50 concurrent PATCHes of one channel', async (t) => {
      const { root, client } = await startServer(t, { backend })
      const other = client(ROOT_KEY)
      const created = json(await root.post(CHANNELS, { code: 'c', type: 'public' }))
      const path = `${CHANNELS}/${String(created.id)}`
      const keys = Array.from({ length: 50 }, (_, i) => [`a${i}`, `b${i}`])
      // Two clients, each sending 50 PATCHes of a field of its own, all at once.
      const replies = await Promise.all(
        keys.flatMap(([a, b]) => [
          root.patch(path, { ext: { [a as string]: a } }),
          other.patch(path, { ext: { [b as string]: b } }),
        ]),
      )
      for (const reply of replies) assert.equal(reply.status, 200, reply.text)
      const ext = json(await root.get(path)).ext as Record<string, unknown>
      const want = keys.flat().sort()
      assert.deepEqual(
        Object.keys(ext)
          .filter((key) => key !== 'ct' && key !== 'lwt')
          .sort(),
        want,
      )
      for (const key of want) assert.equal(ext[key], key)
      // Each PATCH wrote a revision of its own: they ran one after another, none over another's.
      assert.equal(new Set(replies.map(etagOf)).size, replies.length)
    })

    it('never leaves a channel naming a script whose delete raced its create', async (t) => {
      const { root } = await startServer(t, { backend })
      const rounds = Array.from({ length: 20 }, (_, n) => `s${n}`)
      const ids = new Map<string, string>()
      for (const code of rounds) ids.set(code, json(await root.post(SCRIPTS, { code })).id as string)
      const outcomes = await Promise.all(
        rounds.map(async (code) => {
          const [create, remove] = await Promise.all([
            root.post(CHANNELS, { code: `c-${code}`, type: 'public', recv_svcscriptcode: code }),
            root.delete(`${SCRIPTS}/${ids.get(code)}`),
          ])
          return `${create.status}/${remove.status}`
        }),
      )
      // Either the channel came first (the delete is refused: in use) or the delete did (the
      // channel is refused: no such script); never both.
      for (const outcome of outcomes) assert.ok(['200/409', '400/200'].includes(outcome), outcome)
      const scripts = new Set(jsonArray(await root.get(`${SCRIPTS}?limit=1000`)).map((script) => script.code))
      for (const channel of jsonArray(await root.get(`${CHANNELS}?limit=1000`))) {
        assert.ok(scripts.has(channel.recv_svcscriptcode), `${String(channel.code)} names a deleted script`)
      }
    })

    it('never leaves a channel in a domain whose delete raced its create', async (t) => {
      const { root, client } = await startServer(t, { backend })
      const rounds = Array.from({ length: 10 }, (_, n) => `d${n}`)
      const ids = new Map<string, string>()
      for (const name of rounds) ids.set(name, json(await root.post(DOMAINS, { name })).id as string)
      const outcomes = await Promise.all(
        rounds.map(async (name) => {
          const [create, remove] = await Promise.all([
            client(ROOT_KEY, { 'switchboard-domain': name }).post(CHANNELS, { code: 'c', type: 'public' }),
            root.delete(`${DOMAINS}/${ids.get(name)}`),
          ])
          return `${create.status}/${remove.status}`
        }),
      )
      // The create either came first (the domain is not empty) or found no domain.
      for (const outcome of outcomes) assert.ok(['200/409', '404/200'].includes(outcome), outcome)
      const left = new Set(jsonArray(await root.get(`${DOMAINS}?limit=1000`)).map((domain) => domain.name))
      for (const [n, name] of rounds.entries()) {
        const created = outcomes[n]?.startsWith('200') === true
        assert.equal(left.has(name), created, `${name}: ${outcomes[n]}`)
        if (!created) continue
        const channels = jsonArray(await client(ROOT_KEY, { 'switchboard-domain': name }).get(CHANNELS))
        assert.deepEqual(
          channels.map((channel) => channel.code),
          ['c'],
        )
      }
    })
  })
}
