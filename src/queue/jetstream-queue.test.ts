import assert from 'node:assert/strict'
import { it } from 'node:test'
import { jetstreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/nats-core'
import { connect } from '@nats-io/transport-node'
import { newNatsPrefix, TEST_NATS_URL } from '../../test/support/nats.ts'
import { createMetrics } from '../metrics/metrics.ts'
import { JetStreamJobQueue, type JetStreamQueueOptions } from './jetstream-queue.ts'
import { queueContract } from './job-queue.contract.ts'

const ACK_WAIT_MS = 1500

/** Queues on the NATS server of SWITCHBOARD_TEST_NATS_URL (bin/test sets it and starts it with JetStream), on a stream of their own. */
function backing() {
  const prefix = newNatsPrefix()
  const connections: NatsConnection[] = []
  const metrics = createMetrics({ version: 'test', domainName: () => 'd' })
  return {
    connections,
    open: async (options: Pick<JetStreamQueueOptions, 'concurrency' | 'closeWaitMs'>) => {
      // Each queue on a connection of its own, as each node has.
      const connection = await connect({ servers: TEST_NATS_URL })
      connections.push(connection)
      return JetStreamJobQueue.open<{ n: number }>(connection, {
        ...options,
        prefix,
        ackWaitMs: ACK_WAIT_MS,
        metrics: metrics.queue,
        onError: (error) => console.error(error),
      })
    },
    dispose: async () => {
      metrics.close()
      const [first] = connections
      if (first && !first.isClosed()) await (await jetstreamManager(first)).streams.delete(`${prefix}_jobs`).catch(() => {})
      for (const connection of connections) if (!connection.isClosed()) await connection.close()
    },
  }
}

queueContract('jetstream', async () => backing())

it('hands the job of a node that died mid-run to another node after the ack wait', async (t) => {
  const nodes = backing()
  t.after(() => nodes.dispose())
  const dying = await nodes.open({ concurrency: 1, closeWaitMs: 0 })
  t.after(() => dying.close())
  let startedOnDying: () => void = () => {}
  const started = new Promise<void>((resolve) => {
    startedOnDying = resolve
  })
  await dying.start(() => {
    startedOnDying()
    return new Promise(() => {})
  })
  await dying.enqueue('d', 'orphan', { n: 1 })
  await started
  // The node is gone: its connection drops without a word about the job.
  await nodes.connections[0]?.close()

  const survivor = await nodes.open({ concurrency: 1, closeWaitMs: 100 })
  const began = performance.now()
  const job = await new Promise<{ id: string; attempt: number }>((resolve) => {
    void survivor.start(async (next) => {
      resolve(next)
      return { done: true }
    })
  })
  assert.equal(job.id, 'orphan')
  assert.equal(job.attempt, 1, 'a redelivery is the same attempt')
  assert.ok(performance.now() - began < ACK_WAIT_MS * 3, 'within about one ack wait')
  await survivor.close()
})

it('runs each job once when jobs outlast the ack wait: a node holds only the jobs it runs', async (t) => {
  const nodes = backing()
  t.after(() => nodes.dispose())
  const queue = await nodes.open({ concurrency: 2, closeWaitMs: 100 })
  t.after(() => queue.close())
  const runs = new Map<string, number>()
  let finished = 0
  const all = new Promise<void>((resolve) => {
    void queue.start(async (job) => {
      runs.set(job.id, (runs.get(job.id) ?? 0) + 1)
      // Longer than the ack wait: only the keep-alive keeps the server from handing it out again.
      await new Promise((done) => setTimeout(done, ACK_WAIT_MS + 700))
      if (++finished === 5) resolve()
      return { done: true }
    })
  })
  for (let n = 0; n < 5; n++) await queue.enqueue('d', `long-${n}`, { n })
  await all
  await new Promise((resolve) => setTimeout(resolve, ACK_WAIT_MS))
  assert.deepEqual(
    [...runs.entries()].sort(),
    Array.from({ length: 5 }, (_, n) => [`long-${n}`, 1]),
  )
})
