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
