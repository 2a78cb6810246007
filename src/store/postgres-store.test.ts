import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import pg from 'pg'
import { dropSchema, newSchemaName, TEST_DATABASE_URL } from '../../test/support/postgres.ts'
import { openPostgresStore } from './postgres-store.ts'
import { storeContract } from './store.contract.ts'

// Runs against the PostgreSQL server of SWITCHBOARD_TEST_DATABASE_URL (bin/test sets it and starts
// the server), each test in a schema of its own.
storeContract('postgres', async () => {
  const schema = newSchemaName()
  // A pooled connection that fails under a test fails the run loudly (an uncaught exception).
  const onError = (error: unknown) => {
    throw error
  }
  return { store: await openPostgresStore({ url: TEST_DATABASE_URL, schema, onError }), dispose: () => dropSchema(schema) }
})

describe('postgres store migrations', () => {
  it('fills the duration column of execution records stored before it existed (migration 0013)', async (t) => {
    const schema = newSchemaName()
    const closes: (() => Promise<void>)[] = []
    t.after(async () => {
      for (const close of closes) await close()
      await dropSchema(schema)
    })
    const old = await openPostgresStore({ url: TEST_DATABASE_URL, schema, onError: () => {} })
    await old.migrate('0012_svcscript_versions')
    await old.close()
    const raw = new pg.Client({ connectionString: TEST_DATABASE_URL })
    await raw.connect()
    try {
      for (const [n, duration] of [12.5, 30, undefined].entries()) {
        const doc = { id: `e${n}`, channel_id: 'ch', status: 'ok', started_at: '2026-12-01T10:00:00.000Z', duration_ms: duration }
        await raw.query(
          `insert into "${schema}".executions (id, domain_id, channel_id, script_code, trigger, status, started_at, doc) values ($1, 'd', 'ch', 's', 'http', 'ok', $2, $3)`,
          [`e${n}`, doc.started_at, JSON.stringify(doc)],
        )
      }
    } finally {
      await raw.end()
    }
    const store = await openPostgresStore({ url: TEST_DATABASE_URL, schema, onError: () => {} })
    closes.push(() => store.close())
    await store.migrate()
    const table = store.table('executions')
    assert.deepEqual(await table.percentileBy('d', [], 'channel_id', ['duration_ms'], 100), new Map([['ch', 30]]))
    assert.deepEqual(await table.percentileBy('d', [], 'channel_id', ['duration_ms'], 50), new Map([['ch', 12.5]]))
  })

  it('migrate while other clients create and drop schemas of the same database', async () => {
    // Kysely's stock introspector failed here with 3F000 "schema … does not exist" (the tests run
    // in parallel, each dropping its schema at the end).
    let churning = true
    const churner = new pg.Client({ connectionString: TEST_DATABASE_URL })
    await churner.connect()
    const churn = (async () => {
      while (churning) {
        const other = newSchemaName()
        await churner.query(`create schema "${other}"; create table "${other}".t (id int)`)
        await churner.query(`drop schema "${other}" cascade`)
      }
    })()
    try {
      for (let round = 0; round < 15; round++) {
        const schema = newSchemaName()
        try {
          const store = await openPostgresStore({ url: TEST_DATABASE_URL, schema, onError: () => {} })
          await store.migrate()
          await store.close()
        } finally {
          await dropSchema(schema)
        }
      }
    } finally {
      churning = false
      await churn
      await churner.end()
    }
  })
})
