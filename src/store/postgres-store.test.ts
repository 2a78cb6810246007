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
