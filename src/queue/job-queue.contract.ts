import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
import type { Job, JobOutcome, JobQueue } from './job-queue.ts'

interface QueueOptions {
  readonly concurrency: number
  readonly closeWaitMs: number
}

/** One durable backing (a store, a stream) on which queues can be opened, one after the other. */
export interface QueueBacking {
  open(options: QueueOptions): Promise<JobQueue<{ n: number }>>
  dispose(): Promise<void>
}

const DEFAULTS: QueueOptions = { concurrency: 4, closeWaitMs: 200 }

/** Resolves when `test` holds, checking after each job (no fixed sleeps). */
function until(test: () => boolean, ms = 10_000): { check: () => void; done: Promise<void> } {
  let resolve: () => void = () => {}
  const done = new Promise<void>((ok, fail) => {
    resolve = ok
    setTimeout(() => fail(new Error('timed out')), ms).unref()
  })
  return {
    done,
    check: () => {
      if (test()) resolve()
    },
  }
}

/** The promises of `JobQueue`, for every implementation. */
export function queueContract(label: string, backing: () => Promise<QueueBacking>): void {
  async function fresh(t: TestContext): Promise<QueueBacking> {
    const opened = await backing()
    const queues: JobQueue<unknown>[] = []
    t.after(async () => {
      for (const queue of queues) await queue.close()
      await opened.dispose()
    })
    return {
      open: async (options) => {
        const queue = await opened.open(options)
        queues.push(queue as JobQueue<unknown>)
        return queue
      },
      dispose: () => Promise.resolve(),
    }
  }

  describe(`${label} job queue`, () => {
    it('hands each job to a worker with attempt 1, and a finished job never comes back', async (t) => {
      const store = await fresh(t)
      const first = await store.open(DEFAULTS)
      const seen: Job<{ n: number }>[] = []
      const all = until(() => seen.length === 20)
      await first.start(async (job) => {
        seen.push(job)
        all.check()
        return { done: true }
      })
      await Promise.all(Array.from({ length: 20 }, (_, n) => first.enqueue('domain-a', `job-${n}`, { n })))
      await all.done
      assert.deepEqual(
        seen.map((job) => job.payload.n).sort((a, b) => a - b),
        Array.from({ length: 20 }, (_, n) => n),
      )
      assert.ok(seen.every((job) => job.attempt === 1 && job.scope === 'domain-a' && job.id === `job-${job.payload.n}`))
      await first.close()

      // A queue opened later on the same backing gets only what is new.
      const second = await store.open(DEFAULTS)
      const later: number[] = []
      const sentinel = until(() => later.includes(99))
      await second.start(async (job) => {
        later.push(job.payload.n)
        sentinel.check()
        return { done: true }
      })
      await second.enqueue('domain-a', 'sentinel', { n: 99 })
      await sentinel.done
      assert.deepEqual(later, [99])
    })

    it('hands out the jobs stored before start, and at most `concurrency` at once', async (t) => {
      const store = await fresh(t)
      const queue = await store.open({ ...DEFAULTS, concurrency: 2 })
      for (let n = 0; n < 6; n++) await queue.enqueue('d', `early-${n}`, { n })
      let running = 0
      let most = 0
      const done: number[] = []
      const all = until(() => done.length === 6)
      await queue.start(async (job) => {
        running++
        most = Math.max(most, running)
        await new Promise((resolve) => setTimeout(resolve, 20))
        running--
        done.push(job.payload.n)
        all.check()
        return { done: true }
      })
      await all.done
      assert.equal(most, 2)
      assert.deepEqual(done.sort(), [0, 1, 2, 3, 4, 5])
    })

    it('closes in bounded time with every worker busy, starting nothing new, and keeps what waits', async (t) => {
      const store = await fresh(t)
      const first = await store.open({ concurrency: 1, closeWaitMs: 100 })
      const started: string[] = []
      const one = until(() => started.length === 1)
      await first.start((job, stop) => {
        started.push(job.id)
        one.check()
        return new Promise<JobOutcome>((resolve) => stop.addEventListener('abort', () => resolve({ handedBack: true })))
      })
      for (const n of [1, 2, 3]) await first.enqueue('d', `busy-${n}`, { n })
      await one.done
      const began = performance.now()
      await first.close()
      assert.ok(performance.now() - began < 3000, 'close does not wait for a job to end by itself')
      await new Promise((resolve) => setTimeout(resolve, 200))
      assert.equal(started.length, 1, 'nothing started during or after close')

      const second = await store.open(DEFAULTS)
      const all: string[] = []
      const three = until(() => all.length === 3)
      await second.start(async (job) => {
        all.push(job.id)
        three.check()
        return { done: true }
      })
      await three.done
      assert.deepEqual(all.sort(), ['busy-1', 'busy-2', 'busy-3'])
    })

    it('runs a job again with its new payload after the retry wait', async (t) => {
      const store = await fresh(t)
      const queue = await store.open(DEFAULTS)
      const runs: { attempt: number; n: number; at: number }[] = []
      const twice = until(() => runs.length === 2)
      await queue.start(async (job): Promise<JobOutcome> => {
        runs.push({ attempt: job.attempt, n: job.payload.n, at: performance.now() })
        twice.check()
        return job.attempt === 1 ? { retryInMs: 300, payload: { n: job.payload.n + 1 } } : { done: true }
      })
      await queue.enqueue('d', 'retried', { n: 1 })
      await twice.done
      assert.deepEqual(
        runs.map(({ attempt, n }) => [attempt, n]),
        [
          [1, 1],
          [2, 2],
        ],
      )
      assert.ok((runs[1]?.at ?? 0) - (runs[0]?.at ?? 0) >= 250, 'the retry waited')
    })

    it('hands back a job whose run did not finish before close, and hands it out again (at least once)', async (t) => {
      const store = await fresh(t)
      const first = await store.open({ ...DEFAULTS, closeWaitMs: 50 })
      const started = until(() => true)
      // A long run: only the stop of close ends it, and it hands the job back.
      await first.start((_job, stop) => {
        started.check()
        return new Promise<JobOutcome>((resolve) => stop.addEventListener('abort', () => resolve({ handedBack: true })))
      })
      await first.enqueue('d', 'stuck', { n: 7 })
      await started.done
      await first.close()
      // Accepted while the server drains: stored, and run by the next start.
      await first.enqueue('d', 'late', { n: 8 })

      const second = await store.open(DEFAULTS)
      const again: Job<{ n: number }>[] = []
      const back = until(() => again.length === 2)
      await second.start(async (job) => {
        again.push(job)
        back.check()
        return { done: true }
      })
      await back.done
      const stuck = again.find((job) => job.id === 'stuck')
      assert.deepEqual([stuck?.payload, stuck?.attempt], [{ n: 7 }, 1], 'as it was: not an attempt')
      assert.deepEqual(again.find((job) => job.id === 'late')?.payload, { n: 8 })
    })
  })
}
