import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openSqliteStore } from './sqlite-store.ts'
import { storeContract } from './store.contract.ts'

storeContract('sqlite (in memory)', async () => ({ store: openSqliteStore(':memory:') }))

storeContract('sqlite (file)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-store-'))
  return { store: openSqliteStore(join(dir, 'nested', 'switchboard.db')), dispose: async () => rmSync(dir, { recursive: true }) }
})
