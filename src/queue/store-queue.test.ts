import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { createMetrics } from '../metrics/metrics.ts'
import { openSqliteStore } from '../store/sqlite-store.ts'
import { queueContract } from './job-queue.contract.ts'
import type { Job, JobOutcome } from './job-queue.ts'
import { StoreJobQueue } from './store-queue.ts'

function queueOn(
  store: ReturnType<typeof openSqliteStore>,
  closeWaitMs: number,
  owner: { epoch?: string; worker?: string; leaseMs?: number; claimEveryMs?: number } = {},
) {
  const metrics = createMetrics({ version: 'test', domainName: () => 'd' })
  const errors: unknown[] = []
  const queue = new StoreJobQueue<{ n: number }>(store, {
    concurrency: 4,
    closeWaitMs,
    epoch: owner.epoch ?? randomBytes(4).toString('hex'),
    worker: owner.worker ?? 'w1',
    ...(owner.leaseMs !== undefined && { leaseMs: owner.leaseMs }),
    ...(owner.claimEveryMs !== undefined && { claimEveryMs: owner.claimEveryMs }),
    metrics: metrics.queue,
    onError: (error) => errors.push(error),
  })
  return { queue, metrics, errors }
}

/** Collects the jobs a queue runs (done at once) until `count` have run. */
function runner(count: number) {
  const ran: string[] = []
  let all: () => void = () => {}
  const done = new Promise<void>((resolve) => {
    all = resolve
  })
  const work = async (job: Job<{ n: number }>): Promise<JobOutcome> => {
    ran.push(job.id)
    if (ran.length === count) all()
    return { done: true }
  }
  return { ran, done, work }
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
    // Jobs that ignored the stop would hold close for the hand-back wait (2 s) on top of closeWaitMs.
    assert.ok(performance.now() - closing < 2000, 'close waits closeWaitMs, then hands back')
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

  it('runs a gone worker’s jobs on another worker at once, and an expired lease’s only after it ends', async (t) => {
    const store = openSqliteStore(':memory:')
    t.after(() => store.close())
    await store.migrate()
    const epoch = 'e1'
    // Jobs a worker accepted before it died: one told gone by the supervisor, one silent.
    const job = (id: string) => ({ id, scope: 'd', doc: { id, payload: { n: 1 }, attempt: 1 } })
    await store.jobs.insert([job('dead-1'), job('dead-2')], `${epoch}/dead`, Date.now() + 60_000)
    const silentUntil = Date.now() + 400
    await store.jobs.insert([job('silent-1')], `${epoch}/silent`, silentUntil)
    // And one of an earlier run of the node (another epoch): free at once.
    await store.jobs.insert([job('old-1')], 'e0/w1', Date.now() + 60_000)

    const { queue, metrics, errors } = queueOn(store, 1000, { epoch, worker: 'w2', claimEveryMs: 50 })
    t.after(() => metrics.close())
    const { ran, done, work } = runner(4)
    await queue.start(work)
    assert.deepEqual(ran, ['old-1'], 'the live leases are respected')
    await queue.workerGone('dead')
    await until(() => ran.length === 3)
    assert.deepEqual(ran.slice(1).sort(), ['dead-1', 'dead-2'])
    await done
    assert.ok(Date.now() >= silentUntil, 'the silent worker’s job waited for its lease to end')
    await queue.close()
    assert.deepEqual(errors, [])
    assert.deepEqual(await store.table('jobs').scan(), [])
  })

  it('keeps the leases of the jobs it holds, so another worker never takes them', async (t) => {
    const store = openSqliteStore(':memory:')
    t.after(() => store.close())
    await store.migrate()
    const a = queueOn(store, 1000, { epoch: 'e1', worker: 'a', leaseMs: 300, claimEveryMs: 20 })
    const b = queueOn(store, 1000, { epoch: 'e1', worker: 'b', leaseMs: 300, claimEveryMs: 20 })
    t.after(() => Promise.all([a.metrics.close(), b.metrics.close()]))
    // A's job runs for three lease lengths; B looks for free jobs all the while.
    let finish: () => void = () => {}
    const long = new Promise<void>((resolve) => {
      finish = resolve
    })
    const ranOnA: string[] = []
    await a.queue.start(async (job) => {
      ranOnA.push(job.id)
      await long
      return { done: true }
    })
    const { ran: ranOnB, work } = runner(1)
    await b.queue.start(work)
    await a.queue.enqueue('d', 'job-1', { n: 1 })
    await new Promise((resolve) => setTimeout(resolve, 900))
    finish()
    await a.queue.close()
    await b.queue.close()
    assert.deepEqual(ranOnA, ['job-1'])
    assert.deepEqual(ranOnB, [])
    assert.deepEqual(await store.table('jobs').scan(), [])
  })
})

/** Resolves once `test` holds (checked every 10 ms), or fails after 10 s. */
async function until(test: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !test(); i++) await new Promise((resolve) => setTimeout(resolve, 10))
  assert.ok(test(), 'timed out')
}

// The embedded queue on a real SQLite file; queues opened one after the other share it, as a
// restarted process does.
queueContract('store (sqlite)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-queue-'))
  const store = openSqliteStore(join(dir, 'switchboard.db'))
  await store.migrate()
  const metrics = createMetrics({ version: 'test', domainName: () => 'd' })
  return {
    // Each queue as a new run of the node (its own epoch), on the same file.
    open: async (options) =>
      new StoreJobQueue(store, {
        ...options,
        epoch: randomBytes(4).toString('hex'),
        worker: 'w1',
        metrics: metrics.queue,
        onError: (error) => console.error(error),
      }),
    dispose: async () => {
      metrics.close()
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
})
