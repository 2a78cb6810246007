import assert from 'node:assert/strict'
import { it } from 'node:test'
import { openSqliteStore } from '../store/sqlite-store.ts'
import { AuditLog } from './audit-log.ts'

const DOMAIN = '11111111-1111-4111-8111-111111111111'
const change = (n: number) =>
  ({
    actor: { kind: 'root', id: 'root' },
    collection: 'svcscripts',
    entityId: `e${n}`,
    operation: 'create',
    fields: ['code'],
  }) as const

it('keeps the newest entries by count, and none older than the age bound', async (t) => {
  const store = openSqliteStore(':memory:')
  await store.migrate()
  const audit = new AuditLog(store, {
    keepCount: 3,
    keepMs: 60_000,
    retentionEveryMs: 60_000,
    onError: (error) => assert.fail(String(error)),
  })
  t.after(async () => {
    await audit.close()
    await store.close()
  })
  for (let n = 1; n <= 5; n++) await audit.record(store, DOMAIN, change(n))
  const old = { id: '00000000-0000-7000-8000-000000000000', ts: '2020-01-01T00:00:00.000Z', actor: { kind: 'root', id: 'root' } }
  await store.table('audit').insert(DOMAIN, { ...old, collection: 'x', entity_id: 'old', operation: 'create', fields: [] })
  await audit.prune()
  const left = await store
    .table('audit')
    .list(DOMAIN, { filter: [], order: [{ path: ['ts'], descending: false }], offset: 0, limit: 10 })
  assert.deepEqual(
    left.map((entry) => entry.entity_id),
    ['e3', 'e4', 'e5'],
  )
})
