import { randomBytes } from 'node:crypto'
import pg from 'pg'

/** The PostgreSQL server the tests use; bin/test sets it and makes sure it answers. */
export const TEST_DATABASE_URL = process.env.SWITCHBOARD_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/** A fresh schema name; `dropSchema` removes it after the test. */
export function newSchemaName(): string {
  return `t_${randomBytes(6).toString('hex')}`
}

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL })
  await client.connect()
  try {
    await client.query(`drop schema if exists "${schema}" cascade`)
  } finally {
    await client.end()
  }
}
