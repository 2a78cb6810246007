import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
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

it('shares the file with other processes: concurrent writers take turns and see each other’s rows', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-store-'))
  t.after(() => rmSync(dir, { recursive: true }))
  const file = join(dir, 'switchboard.db')
  const store = openSqliteStore(file)
  t.after(() => store.close())
  await store.migrate()
  // Two other processes (as two workers) each write 200 rows in transactions of 10, while this
  // one writes too: none of them fails with SQLITE_BUSY, and nothing is lost.
  const writer = (name: string) => {
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { openSqliteStore } from ${JSON.stringify(new URL('./sqlite-store.ts', import.meta.url).href)}
         const store = openSqliteStore(${JSON.stringify(file)})
         for (let batch = 0; batch < 20; batch++) {
           await store.transaction(async (tx) => {
             const before = await tx.table('jobs').count('d', [])
             for (let i = 0; i < 10; i++) await tx.table('jobs').insert('d', { id: '${name}-' + batch + '-' + i, seen: before })
           })
         }
         await store.close()
         console.log('done')`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    let out = ''
    child.stdout.on('data', (chunk) => {
      out += chunk
    })
    return once(child, 'exit').then(([code]) => ({ code, out: out.trim() }))
  }
  const children = [writer('a'), writer('b')]
  for (let i = 0; i < 100; i++) await store.table('jobs').insert('d', { id: `main-${i}` })
  assert.deepEqual(await Promise.all(children), [
    { code: 0, out: 'done' },
    { code: 0, out: 'done' },
  ])
  assert.equal(await store.table('jobs').count('d', []), 500)
})
