import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { it } from 'node:test'
import Database from 'better-sqlite3'
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

it('fills the duration column of execution records stored before it existed (migration 0013)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-store-'))
  t.after(() => rmSync(dir, { recursive: true }))
  const file = join(dir, 'switchboard.db')
  const old = openSqliteStore(file)
  await old.migrate('0012_svcscript_versions')
  await old.close()
  const raw = new Database(file)
  const insert = raw.prepare(
    'insert into executions (id, domain_id, channel_id, script_code, trigger, status, started_at, doc) values (?, ?, ?, ?, ?, ?, ?, ?)',
  )
  for (const [n, duration] of [12.5, 30, undefined].entries()) {
    const doc = { id: `e${n}`, channel_id: 'ch', status: 'ok', started_at: '2026-12-01T10:00:00.000Z', duration_ms: duration }
    insert.run(`e${n}`, 'd', 'ch', 's', 'http', 'ok', doc.started_at, JSON.stringify(doc))
  }
  raw.close()
  const store = openSqliteStore(file)
  t.after(() => store.close())
  await store.migrate()
  const table = store.table('executions')
  assert.deepEqual(await table.percentileBy('d', [], 'channel_id', ['duration_ms'], 100), new Map([['ch', 30]]))
  assert.deepEqual(await table.percentileBy('d', [], 'channel_id', ['duration_ms'], 50), new Map([['ch', 12.5]]))
})
