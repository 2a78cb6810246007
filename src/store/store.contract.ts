import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
import { type Doc, DuplicateKeyError, type Store, WriteConflictError } from './store.ts'

const DOMAIN_A = 'aaaaaaaa-0000-4000-8000-000000000001'
const DOMAIN_B = 'bbbbbbbb-0000-4000-8000-000000000002'

function channel(id: number, fields: Record<string, unknown> = {}): Doc {
  return {
    id: `00000000-0000-4000-8000-${String(id).padStart(12, '0')}`,
    code: `c${id}`,
    type: 'public',
    token_local: `token-${id}-${'x'.repeat(16)}`,
    opts: { issync: false, recv_timeout: 0, title: '' },
    ext: { ct: '2026-01-01T00:00:00.000Z', lwt: '2026-01-01T00:00:00.000Z' },
    ...fields,
  }
}

const everything = { filter: [], order: [], offset: 0, limit: 1000 }

/** One behavioural suite that every Store implementation must pass. */
export function storeContract(label: string, open: () => Promise<{ store: Store; dispose?: () => Promise<void> }>): void {
  async function fresh(t: TestContext): Promise<Store> {
    const { store, dispose } = await open()
    t.after(async () => {
      await store.close()
      await dispose?.()
    })
    await store.migrate()
    return store
  }

  describe(`${label} store`, () => {
    it('migrates twice without harm', async (t) => {
      const store = await fresh(t)
      await store.migrate()
      await store.ping()
    })

    it('reads back what it stored, scoped to its domain', async (t) => {
      const store = await fresh(t)
      const table = store.table('integration_points')
      const doc = channel(1, { opts: { issync: true, nested: { deep: [1, 'two', null] } } })
      await table.insert(DOMAIN_A, doc)
      assert.deepEqual(await table.get(DOMAIN_A, doc.id), doc)
      assert.deepEqual(JSON.parse((await table.getJson(DOMAIN_A, doc.id))?.json ?? 'null'), doc)
      assert.equal(await table.get(DOMAIN_B, doc.id), undefined)
      assert.equal(await table.getJson(DOMAIN_B, doc.id), undefined)
      assert.deepEqual(await table.findBy('code', 'c1', DOMAIN_A), { scope: DOMAIN_A, doc })
      assert.equal(await table.findBy('code', 'c1', DOMAIN_B), undefined)
      assert.deepEqual(await table.findBy('token_local', doc.token_local as string), { scope: DOMAIN_A, doc })
    })

    it('refuses duplicate ids and unique columns, naming the column', async (t) => {
      const store = await fresh(t)
      const table = store.table('integration_points')
      await table.insert(DOMAIN_A, channel(1))
      await assert.rejects(table.insert(DOMAIN_B, channel(1, { code: 'other', token_local: 'other-token-1234567' })), (error) => {
        assert.ok(error instanceof DuplicateKeyError)
        assert.equal(error.column, 'id')
        return true
      })
      await assert.rejects(table.insert(DOMAIN_A, channel(2, { code: 'c1' })), { name: 'DuplicateKeyError', column: 'code' })
      await assert.rejects(table.insert(DOMAIN_B, channel(3, { token_local: channel(1).token_local })), {
        name: 'DuplicateKeyError',
        column: 'token_local',
      })
      // A code is unique per domain only.
      await table.insert(DOMAIN_B, channel(4, { code: 'c1' }))
      await table.insert(DOMAIN_A, channel(5))
      await assert.rejects(table.update(DOMAIN_A, channel(5, { code: 'c1' })), { name: 'DuplicateKeyError', column: 'code' })
      assert.equal((await table.get(DOMAIN_A, channel(5).id))?.code, 'c5')
    })

    it('filters by columns and by JSON paths with JSON equality', async (t) => {
      const store = await fresh(t)
      const table = store.table('integration_points')
      await table.insert(DOMAIN_A, channel(1, { type: 'eventing', opts: { issync: true, recv_timeout: 5, title: 'A' } }))
      await table.insert(DOMAIN_A, channel(2, { opts: { issync: false, recv_timeout: 5, title: 'B' }, ipmask: ['10.0.0.0/8'] }))
      await table.insert(DOMAIN_A, channel(3, { opts: { issync: true, recv_timeout: 10, title: null } }))
      await table.insert(DOMAIN_B, channel(4, { opts: { issync: true } }))
      const codes = async (filter: { path: string[]; value: unknown }[]) =>
        (await table.list(DOMAIN_A, { ...everything, filter: filter as never })).map((doc) => doc.code)
      assert.deepEqual(await codes([{ path: ['type'], value: 'eventing' }]), ['c1'])
      assert.deepEqual(await codes([{ path: ['opts', 'issync'], value: true }]), ['c1', 'c3'])
      assert.deepEqual(await codes([{ path: ['opts', 'recv_timeout'], value: 5 }]), ['c1', 'c2'])
      assert.deepEqual(await codes([{ path: ['opts', 'recv_timeout'], value: '5' }]), [])
      assert.deepEqual(await codes([{ path: ['opts', 'title'], value: 'B' }]), ['c2'])
      assert.deepEqual(await codes([{ path: ['opts', 'title'], value: null }]), ['c3'])
      assert.deepEqual(await codes([{ path: ['opts', 'missing'], value: null }]), ['c1', 'c2', 'c3'])
      assert.deepEqual(await codes([{ path: ['ipmask'], value: ['10.0.0.0/8'] }]), ['c2'])
      assert.deepEqual(
        await codes([
          { path: ['opts', 'issync'], value: true },
          { path: ['opts', 'recv_timeout'], value: 10 },
        ]),
        ['c3'],
      )
      assert.equal(await table.count(DOMAIN_A, [{ path: ['opts', 'issync'], value: true }] as never), 2)
      assert.equal(await table.count(DOMAIN_B, []), 1)
    })

    it('keeps the newest documents by a mirrored column, and every tie at the threshold', async (t) => {
      const store = await fresh(t)
      const table = store.table('executions')
      const at = ['10:00', '11:00', '12:00', '12:00', '13:00'].map((time) => `2026-12-01T${time}:00.000Z`)
      for (const [n, startedAt] of at.entries()) {
        const id = `00000000-0000-4000-8000-00000000000${n}`
        await table.insert(DOMAIN_A, {
          id,
          channel_id: null,
          script_code: 's',
          trigger: 'http',
          status: 'ok',
          started_at: startedAt,
          n,
        })
      }
      const left = async () => (await table.scan()).map(({ doc }) => doc.n).sort()
      assert.equal(await table.keepNewest('started_at', 10), 0, 'fewer than the bound: nothing goes')
      // The 3 newest are 13:00 and the two tied at 12:00.
      assert.equal(await table.keepNewest('started_at', 3), 2)
      assert.deepEqual(await left(), [2, 3, 4])
      // Keeping 2 would cut between the ties: both stay.
      assert.equal(await table.keepNewest('started_at', 2), 0)
      assert.equal(await table.keepNewest('started_at', 1), 2)
      assert.deepEqual(await left(), [4])
    })

    it('filters a mirrored column by a range, in lists and counts', async (t) => {
      const store = await fresh(t)
      const table = store.table('executions')
      for (const [n, at] of ['2026-12-01T10:00:00.000Z', '2026-12-01T11:00:00.000Z', '2026-12-01T12:00:00.000Z'].entries()) {
        const id = `00000000-0000-4000-8000-00000000000${n}`
        await table.insert(DOMAIN_A, { id, channel_id: null, script_code: 's', trigger: 'http', status: 'ok', started_at: at, n })
      }
      const range = [
        { path: ['started_at'], op: 'gte', value: '2026-12-01T11:00:00.000Z' },
        { path: ['started_at'], op: 'lt', value: '2026-12-01T12:00:00.000Z' },
      ] as const
      const listed = await table.list(DOMAIN_A, { ...everything, filter: range })
      assert.deepEqual(
        listed.map((doc) => doc.n),
        [1],
      )
      assert.equal(await table.count(DOMAIN_A, [range[0]]), 2)
      await assert.rejects(
        table.list(DOMAIN_A, { ...everything, filter: [{ path: ['doc'], op: 'gte', value: 'x' }] }),
        /mirrored column/,
      )
    })

    it('searches execution records by the words of their webhook body and headers, kept current on writes', async (t) => {
      const store = await fresh(t)
      const table = store.table('executions')
      const record = (n: number, body: unknown, headers: Record<string, string> = {}) => ({
        id: `00000000-0000-4000-8000-00000000000${n}`,
        channel_id: null,
        script_code: 's',
        trigger: 'http',
        status: 'ok',
        started_at: `2026-12-01T1${n}:00:00.000Z`,
        input: { webhook: { method: 'POST', headers, query: {}, body } },
      })
      await table.insert(DOMAIN_A, record(1, { order: 7, email: 'Ada@Example.com' }, { 'x-shop': 'Berlin' }))
      await table.insert(DOMAIN_A, record(2, 'plain text order 8'))
      await table.upsertMany([{ scope: DOMAIN_A, doc: record(3, { customer: 'Grace' }) }])
      await table.insert(DOMAIN_B, record(4, { order: 7 }))
      await table.insert(DOMAIN_A, { ...record(5, null), input: { startparams: ['order'] } })
      const found = async (words: string[], scope = DOMAIN_A) =>
        (await table.list(scope, { ...everything, order: [{ path: ['started_at'], descending: false }], search: words })).map(
          (doc) => Number(doc.id.slice(-1)),
        )
      assert.deepEqual(await found(['order']), [1, 2], 'JSON and text bodies, not other inputs')
      assert.deepEqual(await found(['order', '7']), [1], 'every word')
      assert.deepEqual(await found(['ord']), [1, 2], 'words by their start')
      assert.deepEqual(await found(['example']), [1], 'case-insensitive')
      assert.deepEqual(await found(['berlin']), [1], 'headers too')
      assert.deepEqual(await found(['order', '7'], DOMAIN_B), [4], 'in its domain only')
      assert.deepEqual(await found(['nothing']), [])
      assert.equal(await table.count(DOMAIN_A, [], ['order']), 2)
      // Replaced and deleted records leave the index with them.
      await table.upsertMany([{ scope: DOMAIN_A, doc: record(3, { customer: 'Hopper' }) }])
      assert.deepEqual(await found(['grace']), [])
      assert.deepEqual(await found(['hopper']), [3])
      await table.update(DOMAIN_A, record(2, 'nothing here'))
      assert.deepEqual(await found(['order']), [1])
      assert.equal(await table.removeBefore('started_at', '2026-12-01T12:00:00.000Z'), 1)
      assert.deepEqual(await found(['order']), [])
      await assert.rejects(table.list(DOMAIN_A, { ...everything, search: ['a"b'] }), /letters and digits/)
      await assert.rejects(store.table('audit').list(DOMAIN_A, { ...everything, search: ['a'] }), /cannot be searched/)
    })

    it('orders by columns and JSON paths, pages with offset and limit, ties broken by id', async (t) => {
      const store = await fresh(t)
      const table = store.table('integration_points')
      const timeouts = [30, 5, 60, 5, 0]
      for (const [i, recv_timeout] of timeouts.entries()) {
        await table.insert(DOMAIN_A, channel(i + 1, { code: `code-${'edcba'[i]}`, opts: { recv_timeout } }))
      }
      const list = async (order: { path: string[]; descending: boolean }[], offset = 0, limit = 100) =>
        (await table.list(DOMAIN_A, { filter: [], order, offset, limit })).map((doc) => doc.code)
      assert.deepEqual(await list([{ path: ['code'], descending: false }]), ['code-a', 'code-b', 'code-c', 'code-d', 'code-e'])
      assert.deepEqual(await list([{ path: ['opts', 'recv_timeout'], descending: true }]), [
        'code-c',
        'code-e',
        'code-d',
        'code-b',
        'code-a',
      ])
      assert.deepEqual(await list([{ path: ['opts', 'recv_timeout'], descending: false }], 1, 2), ['code-d', 'code-b'])
      assert.deepEqual(await list([], 3, 10), ['code-b', 'code-a'])
    })

    it('counts per combination of columns and per minute, and takes a percentile per column value', async (t) => {
      const store = await fresh(t)
      const table = store.table('executions')
      const runs: [string | null, string, string, number | null][] = [
        ['ch-a', 'ok', '2026-12-01T10:00:05.000Z', 10],
        ['ch-a', 'ok', '2026-12-01T10:00:59.999Z', 30],
        ['ch-a', 'error', '2026-12-01T10:00:30.000Z', 20],
        ['ch-a', 'ok', '2026-12-01T10:01:00.000Z', 40],
        ['ch-b', 'timeout', '2026-12-01T10:02:00.000Z', 5],
        [null, 'ok', '2026-12-01T10:02:00.000Z', 7],
        // Still running: no duration yet.
        ['ch-b', 'queued', '2026-12-01T10:03:00.000Z', null],
        // Before the window.
        ['ch-a', 'error', '2026-12-01T09:59:59.999Z', 1000],
      ]
      for (const [n, [channelId, status, startedAt, duration]] of runs.entries()) {
        await table.insert(DOMAIN_A, {
          id: `00000000-0000-4000-8000-0000000000${String(n).padStart(2, '0')}`,
          channel_id: channelId,
          script_code: 's',
          trigger: 'http',
          status,
          started_at: startedAt,
          ...(duration !== null && { duration_ms: duration }),
        })
      }
      // Another domain's run is not counted.
      await table.insert(DOMAIN_B, {
        id: '00000000-0000-4000-8000-000000000099',
        channel_id: 'ch-a',
        script_code: 's',
        trigger: 'http',
        status: 'ok',
        started_at: '2026-12-01T10:00:00.000Z',
        duration_ms: 1,
      })
      const window = [{ path: ['started_at'], op: 'gte', value: '2026-12-01T10:00:00.000Z' }] as const
      const grouped = await table.countGrouped(DOMAIN_A, window, ['channel_id', 'started_at', 'status'], 'started_at')
      const sorted = (rows: typeof grouped) =>
        rows.map((row) => [...row.values, row.count].join(' ')).sort((a, b) => a.localeCompare(b))
      assert.deepEqual(
        sorted(grouped),
        [
          'ch-a 2026-12-01T10:00 error 1',
          'ch-a 2026-12-01T10:00 ok 2',
          'ch-a 2026-12-01T10:01 ok 1',
          'ch-b 2026-12-01T10:02 timeout 1',
          'ch-b 2026-12-01T10:03 queued 1',
          ' 2026-12-01T10:02 ok 1',
        ].sort((a, b) => a.localeCompare(b)),
      )
      assert.deepEqual(await table.countGrouped(DOMAIN_A, [], ['status']).then(sorted), [
        'error 2',
        'ok 4',
        'queued 1',
        'timeout 1',
      ])
      assert.equal((await table.countGrouped(DOMAIN_A, window, ['channel_id'])).find((row) => row.values[0] === null)?.count, 1)

      // Nearest rank: of ch-a's 10, 20, 30, 40 ms the 95th percentile is the 4th, the 50th the 2nd.
      assert.deepEqual(
        await table.percentileBy(DOMAIN_A, window, 'channel_id', ['duration_ms'], 95),
        new Map<string | null, number>([
          ['ch-a', 40],
          ['ch-b', 5],
          [null, 7],
        ]),
      )
      assert.equal((await table.percentileBy(DOMAIN_A, window, 'channel_id', ['duration_ms'], 50)).get('ch-a'), 20)
      await assert.rejects(table.countGrouped(DOMAIN_A, [], ['doc']), /not a mirrored column/)
      await assert.rejects(table.percentileBy(DOMAIN_A, [], 'channel_id', ['duration_ms'], 99.9), /whole percent/)
    })

    it('counts by column and scans everything or by column', async (t) => {
      const store = await fresh(t)
      const table = store.table('integration_points')
      await table.insert(DOMAIN_A, channel(1))
      await table.insert(DOMAIN_A, channel(2, { type: 'eventing' }))
      await table.insert(DOMAIN_A, channel(3))
      await table.insert(DOMAIN_B, channel(4))
      assert.deepEqual(
        await table.countBy(DOMAIN_A, 'type'),
        new Map([
          ['eventing', 1],
          ['public', 2],
        ]),
      )
      assert.equal((await table.scan()).length, 4)
      const publics = await table.scan({ column: 'type', value: 'public' })
      assert.deepEqual(
        publics.map(({ scope, doc }) => [scope, doc.code]),
        [
          [DOMAIN_A, 'c1'],
          [DOMAIN_A, 'c3'],
          [DOMAIN_B, 'c4'],
        ],
      )
    })

    it('updates and removes only within the scope', async (t) => {
      const store = await fresh(t)
      const table = store.table('integration_points')
      await table.insert(DOMAIN_A, channel(1))
      await table.update(DOMAIN_B, channel(1, { code: 'stolen' }))
      assert.equal((await table.get(DOMAIN_A, channel(1).id))?.code, 'c1')
      await table.update(DOMAIN_A, channel(1, { code: 'renamed' }))
      assert.equal((await table.findBy('code', 'renamed', DOMAIN_A))?.doc.id, channel(1).id)
      assert.equal(await table.remove(DOMAIN_B, channel(1).id), false)
      assert.equal(await table.remove(DOMAIN_A, channel(1).id), true)
      assert.equal(await table.get(DOMAIN_A, channel(1).id), undefined)
    })

    it('upserts and removes one or many documents, updating the mirrored columns', async (t) => {
      const store = await fresh(t)
      const table = store.table('integration_points')
      await table.upsert(DOMAIN_A, channel(1))
      await table.upsertMany([
        { scope: DOMAIN_A, doc: channel(1, { code: 'again' }) },
        { scope: DOMAIN_B, doc: channel(2) },
        { scope: DOMAIN_A, doc: channel(3) },
      ])
      await table.upsertMany([])
      assert.equal((await table.findBy('code', 'again', DOMAIN_A))?.doc.id, channel(1).id)
      // keepExisting inserts what is new and leaves what is stored.
      await table.upsertMany(
        [
          { scope: DOMAIN_A, doc: channel(1, { code: 'not-this' }) },
          { scope: DOMAIN_A, doc: channel(4) },
        ],
        { keepExisting: true },
      )
      assert.equal((await table.get(DOMAIN_A, channel(1).id))?.code, 'again')
      assert.equal((await table.get(DOMAIN_A, channel(4).id))?.code, 'c4')
      await table.remove(DOMAIN_A, channel(4).id)
      assert.equal((await table.get(DOMAIN_B, channel(2).id))?.code, 'c2')
      assert.equal((await table.scan()).length, 3)
      assert.equal(await table.removeMany([channel(1).id, channel(2).id, channel(9).id]), 2)
      assert.equal(await table.removeMany([]), 0)
      assert.deepEqual(
        (await table.scan()).map(({ doc }) => doc.id),
        [channel(3).id],
      )
    })

    it('keeps global tables without a domain', async (t) => {
      const store = await fresh(t)
      const domains = store.table('domains')
      const doc = { id: DOMAIN_A, name: 'acme', license: { public: 3 } }
      await domains.insert(null, doc)
      assert.deepEqual(await domains.get(null, DOMAIN_A), doc)
      assert.deepEqual(await domains.findBy('name', 'acme'), { scope: null, doc })
      await assert.rejects(domains.insert(null, { id: DOMAIN_B, name: 'acme' }), { name: 'DuplicateKeyError', column: 'name' })
    })

    it('commits a transaction, rolls it back on error, and joins nested ones', async (t) => {
      const store = await fresh(t)
      await store.transaction(async (tx) => {
        await tx.table('integration_points').insert(DOMAIN_A, channel(1))
        await tx.transaction(async (inner) => inner.table('integration_points').insert(DOMAIN_A, channel(2)))
      })
      await assert.rejects(
        store.transaction(async (tx) => {
          await tx.lock('some-key')
          await tx.table('integration_points').insert(DOMAIN_A, channel(3))
          throw new Error('changed my mind')
        }),
        /changed my mind/,
      )
      assert.deepEqual(
        (await store.table('integration_points').list(DOMAIN_A, everything)).map((doc) => doc.code),
        ['c1', 'c2'],
      )
      await assert.rejects(store.lock('outside'), /needs a transaction/)
    })

    it('never shows a read the writes of a transaction that is still open and then rolls back', async (t) => {
      const store = await fresh(t)
      let release: () => void = () => {}
      const gate = new Promise<void>((resolve) => {
        release = resolve
      })
      let inserted: () => void = () => {}
      const insertedSignal = new Promise<void>((resolve) => {
        inserted = resolve
      })
      const transaction = store.transaction(async (tx) => {
        await tx.table('integration_points').insert(DOMAIN_A, channel(1))
        inserted()
        await gate
        throw new Error('roll back')
      })
      await insertedSignal
      const read = store.table('integration_points').get(DOMAIN_A, channel(1).id)
      const count = store.table('integration_points').count(DOMAIN_A, [])
      release()
      await assert.rejects(transaction, /roll back/)
      assert.equal(await read, undefined)
      assert.equal(await count, 0)
    })

    it('serialises concurrent transactions that take the same lock', async (t) => {
      const store = await fresh(t)
      const table = store.table('integration_points')
      // Each transaction reads the count and inserts only below 3: without the lock they would overshoot.
      const attempts = Array.from({ length: 8 }, (_, i) =>
        store.transaction(async (tx) => {
          await tx.lock('limit')
          const used = await tx.table('integration_points').count(DOMAIN_A, [])
          if (used >= 3) return false
          await tx.table('integration_points').insert(DOMAIN_A, channel(i + 1))
          return true
        }),
      )
      const results = await Promise.all(attempts)
      assert.equal(results.filter(Boolean).length, 3)
      assert.equal(await table.count(DOMAIN_A, []), 3)
    })

    it('gives every write a new revision, and writes with `rev` only over that revision', async (t) => {
      const store = await fresh(t)
      const table = store.table('integration_points')
      const first = await table.insert(DOMAIN_A, channel(1))
      assert.deepEqual(await table.read(DOMAIN_A, channel(1).id), { doc: channel(1), rev: first })
      assert.equal((await table.getJson(DOMAIN_A, channel(1).id))?.rev, first)
      assert.equal(await table.read(DOMAIN_B, channel(1).id), undefined)
      const second = await table.update(DOMAIN_A, channel(1, { code: 'second' }), { rev: first })
      assert.notEqual(second, first)
      // A write over a revision that is gone changes nothing.
      await assert.rejects(table.update(DOMAIN_A, channel(1, { code: 'stale' }), { rev: first }), WriteConflictError)
      await assert.rejects(table.remove(DOMAIN_A, channel(1).id, { rev: first }), WriteConflictError)
      await assert.rejects(table.update(DOMAIN_B, channel(1, { code: 'elsewhere' }), { rev: second }), WriteConflictError)
      assert.deepEqual(await table.read(DOMAIN_A, channel(1).id), { doc: channel(1, { code: 'second' }), rev: second })
      await table.upsert(DOMAIN_A, channel(1, { code: 'third' }))
      const third = (await table.read(DOMAIN_A, channel(1).id))?.rev
      assert.ok(third !== undefined && third !== second)
      assert.equal(await table.remove(DOMAIN_A, channel(1).id, { rev: third }), true)
      // Deleted and created again with the same id: never an old revision.
      const again = await table.insert(DOMAIN_A, channel(1))
      assert.ok(![first, second, third].includes(again))
    })

    it('loses no field of 2×50 concurrent read-modify-write transactions of one document', async (t) => {
      const store = await fresh(t)
      const table = store.table('integration_points')
      await table.insert(DOMAIN_A, channel(1, { ext: {} }))
      const id = channel(1).id
      // Each adds its own key to `ext` after reading the document locked: none may write over
      // another's key, and none may need a retry (the lock makes them wait instead).
      const addKey = (key: string) =>
        store.transaction(async (tx) => {
          const found = await tx.table('integration_points').read(DOMAIN_A, id, { lock: 'update' })
          assert.ok(found)
          const ext = { ...(found.doc.ext as Record<string, unknown>), [key]: true }
          await tx.table('integration_points').update(DOMAIN_A, { ...found.doc, ext }, { rev: found.rev })
        })
      const keys = ['a', 'b'].flatMap((side) => Array.from({ length: 50 }, (_, i) => `${side}${i}`))
      await Promise.all(keys.map(addKey))
      const ext = (await table.get(DOMAIN_A, id))?.ext as Record<string, unknown>
      assert.deepEqual(Object.keys(ext).sort(), [...keys].sort())
    })

    it('keeps a row locked `share` from being removed until commit, so no reference to it dangles', async (t) => {
      const store = await fresh(t)
      const scripts = store.table('svcscripts')
      const refersTo = (code: string) => ({ path: ['recv_svcscriptcode'], value: code })
      // Each round races a channel that refers to script s<n> (checked under a share lock)
      // with a delete of s<n> (locked for update, refused while a channel refers to it).
      const rounds = Array.from({ length: 20 }, (_, n) => n)
      for (const n of rounds)
        await scripts.insert(DOMAIN_A, { id: `10000000-0000-4000-8000-${String(n).padStart(12, '0')}`, code: `s${n}` })
      const outcomes = await Promise.all(
        rounds.map(async (n) => {
          const create = store.transaction(async (tx) => {
            if (!(await tx.table('svcscripts').findBy('code', `s${n}`, DOMAIN_A, { lock: 'share' }))) return 'no script'
            await tx.table('integration_points').insert(DOMAIN_A, channel(n + 1, { recv_svcscriptcode: `s${n}` }))
            return 'created'
          })
          const remove = store.transaction(async (tx) => {
            const id = `10000000-0000-4000-8000-${String(n).padStart(12, '0')}`
            const found = await tx.table('svcscripts').read(DOMAIN_A, id, { lock: 'update' })
            assert.ok(found)
            if ((await tx.table('integration_points').count(DOMAIN_A, [refersTo(`s${n}`)])) > 0) return 'in use'
            await tx.table('svcscripts').remove(DOMAIN_A, id, { rev: found.rev })
            return 'deleted'
          })
          return `${await create}/${await remove}`
        }),
      )
      for (const outcome of outcomes) assert.ok(['created/in use', 'no script/deleted'].includes(outcome), outcome)
      for (const { doc } of await store.table('integration_points').scan()) {
        assert.ok(
          await scripts.findBy('code', doc.recv_svcscriptcode as string, DOMAIN_A),
          `${doc.code} refers to a deleted script`,
        )
      }
    })

    it('rejects with WriteConflictError a transaction the database aborts to break a deadlock', async (t) => {
      const store = await fresh(t)
      if (store.kind === 'sqlite') {
        t.skip('SQLite runs one write transaction at a time: two of them never wait for each other')
        return
      }
      const table = store.table('integration_points')
      await table.insert(DOMAIN_A, channel(1))
      await table.insert(DOMAIN_A, channel(2))
      // Each locks its first row, waits until the other has too, then asks for the other's.
      let locked = 0
      const bothLocked = async () => {
        locked++
        while (locked < 2) await new Promise((resolve) => setImmediate(resolve))
      }
      const crossing = (first: Doc, second: Doc) =>
        store.transaction(async (tx) => {
          await tx.table('integration_points').read(DOMAIN_A, first.id, { lock: 'update' })
          await bothLocked()
          await tx.table('integration_points').read(DOMAIN_A, second.id, { lock: 'update' })
        })
      const results = await Promise.allSettled([crossing(channel(1), channel(2)), crossing(channel(2), channel(1))])
      const rejected = results.filter((result) => result.status === 'rejected')
      assert.equal(rejected.length, 1, 'the database aborts one of the two')
      assert.ok(rejected[0]?.reason instanceof WriteConflictError, String(rejected[0]?.reason))
    })

    it('keeps settings, setting a value only once with setIfAbsent', async (t) => {
      const store = await fresh(t)
      assert.equal(await store.settings.get('k'), undefined)
      assert.equal(await store.settings.setIfAbsent('k', 'first'), 'first')
      assert.equal(await store.settings.setIfAbsent('k', 'second'), 'first')
      await store.settings.set('k', 'third')
      assert.equal(await store.settings.get('k'), 'third')
    })
  })
}
