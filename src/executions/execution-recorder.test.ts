import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { openSqliteStore } from '../store/sqlite-store.ts'
import { ExecutionRecorder } from './execution-recorder.ts'
import type { Execution } from './execution-schemas.ts'

function execution(n: number, startedAt: string): Execution {
  return {
    id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    channel_id: null,
    script_code: 's',
    trigger: 'svcscript',
    status: 'ok',
    started_at: startedAt,
    duration_ms: 1,
    input: null,
    output: null,
    logs: [],
    error: null,
    replay_of: null,
  }
}

describe('execution recorder', () => {
  it('writes records in batches, a newer state replacing an older one', async (t) => {
    const store = openSqliteStore(':memory:')
    await store.migrate()
    const recorder = new ExecutionRecorder(store, {
      flushMs: 10,
      maxBatch: 100,
      maxBuffered: 10_000,
      keepCount: 1000,
      keepMs: 3_600_000,
      retentionEveryMs: 60_000,
      onError: (error) => assert.fail(String(error)),
    })
    t.after(async () => {
      await recorder.close()
      await store.close()
    })
    const now = new Date().toISOString()
    const writes = Array.from({ length: 50 }, (_, i) => recorder.record('d', execution(i, now)))
    assert.equal(await store.table('executions').count('d', []), 0, 'nothing is written synchronously')
    await Promise.all(writes)
    assert.equal(await store.table('executions').count('d', []), 50)
    await recorder.record('d', { ...execution(1, now), status: 'error' }, { soon: true })
    assert.equal((await store.table('executions').get('d', execution(1, now).id))?.status, 'error')
    assert.equal(await store.table('executions').count('d', []), 50)
    // An if-absent record that arrives late (another node wrote the outcome first) changes nothing,
    // in another batch or in the same one.
    await recorder.record('d', { ...execution(1, now), status: 'queued' }, { soon: true, ifAbsent: true })
    assert.equal((await store.table('executions').get('d', execution(1, now).id))?.status, 'error')
    const outcome = recorder.record('d', { ...execution(78, now), status: 'ok' })
    await recorder.record('d', { ...execution(78, now), status: 'queued' }, { soon: true, ifAbsent: true })
    await outcome
    assert.equal((await store.table('executions').get('d', execution(78, now).id))?.status, 'ok')
    await recorder.record('d', { ...execution(77, now), status: 'queued' }, { soon: true, ifAbsent: true })
    assert.equal((await store.table('executions').get('d', execution(77, now).id))?.status, 'queued')
    // Without ifAbsent a queued record replaces (a job handed back on shutdown).
    await recorder.record('d', { ...execution(1, now), status: 'queued' }, { soon: true })
    assert.equal((await store.table('executions').get('d', execution(1, now).id))?.status, 'queued')
  })

  it('keeps only the newest records, by count and by age', async (t) => {
    const store = openSqliteStore(':memory:')
    await store.migrate()
    const recorder = new ExecutionRecorder(store, {
      flushMs: 1,
      maxBatch: 100,
      maxBuffered: 10_000,
      keepCount: 5,
      keepMs: 3_600_000,
      retentionEveryMs: 60_000,
      onError: (error) => assert.fail(String(error)),
    })
    t.after(async () => {
      await recorder.close()
      await store.close()
    })
    const old = new Date(Date.now() - 2 * 3_600_000).toISOString()
    await recorder.record('d', execution(100, old))
    for (let i = 0; i < 8; i++) await recorder.record('e', execution(i, new Date(Date.now() - (8 - i) * 1000).toISOString()))
    await recorder.prune()
    const left = [...(await store.table('executions').scan())].map(({ doc }) => Number(doc.id.slice(-3)))
    assert.deepEqual(
      left.sort((a, b) => a - b),
      [3, 4, 5, 6, 7],
    )
  })
})
