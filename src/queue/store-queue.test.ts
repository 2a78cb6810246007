import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openSqliteStore } from '../store/sqlite-store.ts'
import { queueContract } from './job-queue.contract.ts'
import { StoreJobQueue } from './store-queue.ts'

// The embedded queue on a real SQLite file; queues opened one after the other share it, as a
// restarted process does.
queueContract('store (sqlite)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-queue-'))
  const store = openSqliteStore(join(dir, 'switchboard.db'))
  await store.migrate()
  return {
    open: async (options) => new StoreJobQueue(store, { ...options, onError: (error) => console.error(error) }),
    dispose: async () => {
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
})
