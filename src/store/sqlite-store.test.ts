import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { it } from 'node:test'
import { openSqliteStore } from './sqlite-store.ts'
import { storeContract } from './store.contract.ts'

storeContract('sqlite (in memory)', async () => ({ store: openSqliteStore(':memory:') }))

storeContract('sqlite (file)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-store-'))
  return { store: openSqliteStore(join(dir, 'nested', 'switchboard.db')), dispose: async () => rmSync(dir, { recursive: true }) }
})

it('refuses a second process on the same database file, with a message saying why', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-store-'))
  t.after(() => rmSync(dir, { recursive: true }))
  const file = join(dir, 'switchboard.db')
  const first = openSqliteStore(file)
  await first.migrate()
  // Another process: a separate connection cannot get the file while the first holds it.
  const child = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { openSqliteStore } from ${JSON.stringify(new URL('./sqlite-store.ts', import.meta.url).href)}
       try { openSqliteStore(${JSON.stringify(file)}); console.log('opened') } catch (error) { console.log(error.name + ': ' + error.message) }`,
    ],
    { encoding: 'utf8' },
  )
  assert.match(child.stdout, /DatabaseInUseError: .*switchboard\.db is in use by another process/)
  await first.close()
  const second = openSqliteStore(file)
  await second.ping()
  await second.close()
})
