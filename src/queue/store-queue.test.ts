import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { createMetrics } from '../metrics/metrics.ts'
import { openSqliteStore } from '../store/sqlite-store.ts'
import { queueContract } from './job-queue.contract.ts'
import type { Job, JobOutcome } from './job-queue.ts'
import { StoreJobQueue } from './store-queue.ts'

function queueOn(store: ReturnType<typeof openSqliteStore>, closeWaitMs: number) {
  const metrics = createMetrics({ version: 'test', domainName: () => 'd' })
  const errors: unknown[] = []
  const queue = new StoreJobQueue<{ n: number }>(store, {
    concurrency: 4,
    closeWaitMs,
    metrics: metrics.queue,
    onError: (error) => errors.push(error),
  })
  return { queue, metrics, errors }
}

describe('StoreJobQueue', () => {
  it('hands running jobs back on close: stored as they were, run again by the next start', async (t) => {
    const store = openSqliteStore(':memory:')
    t.after(() => store.close())
    await store.migrate()
    const first = queueOn(store, 50)
    t.after(() => first.metrics.close())
    const started: Job<{ n: number }>[] = []
    let running: () => void = () => {}
    const bothRunning = new Promise<void>((resolve) => {
      running = resolve
    })
    await first.queue.start(async (job, stop): Promise<JobOutcome> => {
      started.push(job)
      if (started.length === 2) running()
      // A job that would run for long: only the stop ends it.
      await new Promise((resolve) => stop.addEventListener('abort', resolve, { once: true }))
      return { handedBack: true }
    })
    await Promise.all([first.queue.enqueue('d', 'job-1', { n: 1 }), first.queue.enqueue('d', 'job-2', { n: 2 })])
    await bothRunning
    assert.deepEqual(first.queue.stats, { ready: 0, running: 2, retrying: 0 })
    const closing = performance.now()
    await first.queue.close()
    assert.ok(performance.now() - closing < 1000, 'close waits closeWaitMs, then hands back')
    assert.equal(first.metrics.queue.handedBack.value, 2)
    assert.equal(first.metrics.queue.accepted.value, 2)
    assert.deepEqual(first.errors, [])
    const stored = await store.table('jobs').scan()
    assert.deepEqual(
      stored.map(({ scope, doc }) => [scope, doc]),
      [
        ['d', { id: 'job-1', payload: { n: 1 }, attempt: 1 }],
        ['d', { id: 'job-2', payload: { n: 2 }, attempt: 1 }],
      ],
    )

    const second = queueOn(store, 1000)
    t.after(() => second.metrics.close())
    const rerun: { id: string; attempt: number; payload: unknown }[] = []
    let allDone: () => void = () => {}
    const done = new Promise<void>((resolve) => {
      allDone = resolve
    })
    await second.queue.start(async (job) => {
      rerun.push({ id: job.id, attempt: job.attempt, payload: job.payload })
      if (rerun.length === 2) allDone()
      return { done: true }
    })
    await done
    await second.queue.close()
    assert.deepEqual(
      rerun.sort((a, b) => a.id.localeCompare(b.id)),
      [
        { id: 'job-1', attempt: 1, payload: { n: 1 } },
        { id: 'job-2', attempt: 1, payload: { n: 2 } },
      ],
    )
    assert.equal(second.metrics.queue.completed.value, 2)
    assert.deepEqual(await store.table('jobs').scan(), [])
  })

  it('lets running jobs finish within the close bound', async (t) => {
    const store = openSqliteStore(':memory:')
    t.after(() => store.close())
    await store.migrate()
    const { queue, metrics } = queueOn(store, 5000)
    t.after(() => metrics.close())
    let release: () => void = () => {}
    const released = new Promise<void>((resolve) => {
      release = resolve
    })
    let began: () => void = () => {}
    const running = new Promise<void>((resolve) => {
      began = resolve
    })
    let stopped = false
    await queue.start(async (_job, stop) => {
      began()
      await released
      stopped = stop.aborted
      return { done: true }
    })
    await queue.enqueue('d', 'job-1', { n: 1 })
    await running
    const closed = queue.close()
    release()
    await closed
    assert.equal(stopped, false, 'a job that finishes in time is not stopped')
    assert.equal(metrics.queue.completed.value, 1)
    assert.equal(metrics.queue.handedBack.value, 0)
    assert.deepEqual(await store.table('jobs').scan(), [])
  })
})

// The embedded queue on a real SQLite file; queues opened one after the other share it, as a
// restarted process does.
queueContract('store (sqlite)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-queue-'))
  const store = openSqliteStore(join(dir, 'switchboard.db'))
  await store.migrate()
  const metrics = createMetrics({ version: 'test', domainName: () => 'd' })
  return {
    open: async (options) =>
      new StoreJobQueue(store, { ...options, metrics: metrics.queue, onError: (error) => console.error(error) }),
    dispose: async () => {
      metrics.close()
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
})
