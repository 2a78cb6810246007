import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MemoryBus } from '../bus/memory-bus.ts'
import { createLogger } from '../logger.ts'
import { createMetrics } from '../metrics/metrics.ts'
import { EventDelivery, type EventSink } from './event-delivery.ts'
import { Events } from './events.ts'
import { parseSubscribe } from './subscription.ts'

/** A connection's outgoing side: it keeps the frames it is given. */
class FrameLog implements EventSink {
  static #next = 0
  readonly id = `conn-${FrameLog.#next++}`
  readonly domainId = 'd1'
  readonly channelId: string
  readonly channel: { readonly type: string }
  readonly frames: unknown[] = []
  bufferedBytes = 0
  open = true

  constructor(channelId: string, type: string) {
    this.channelId = channelId
    this.channel = { type }
  }

  sendFrame(frame: string): void {
    this.frames.push(JSON.parse(frame))
  }

  numbers(): number[] {
    return this.frames.map((frame) => ((frame as [string, { data: { n: number } }])[1].data as { n: number }).n)
  }
}

const COLLECTIONS = new Set(['users', 'svcscripts'])

/** Two nodes: one bus, a delivery each (as cluster mode has one per node on NATS). */
function twoNodes(t: { after(fn: () => Promise<void>): void }) {
  const bus = new MemoryBus()
  const metrics = createMetrics({ version: 'test', domainName: () => 'd' })
  const nodes = [1, 2].map(
    () =>
      new EventDelivery<FrameLog>({
        bus,
        maxSubscriptions: 10,
        maxBacklogBytes: 1 << 20,
        mayRead: () => true,
        logger: createLogger('silent'),
        metrics: metrics.events,
      }),
  )
  const events = new Events({ bus, maxEventBytes: 1 << 16, masterDomainId: () => undefined, metrics: metrics.events })
  t.after(async () => {
    for (const node of nodes) await node.close()
    await bus.close()
    metrics.close()
  })
  const subscribe = (node: number, sink: FrameLog, payload: Record<string, unknown>) =>
    nodes[node]?.subscribe(sink, parseSubscribe({ expires: 60, ...payload }, COLLECTIONS))
  return { bus, events, subscribe, metrics }
}

const delivered = () => new Promise((resolve) => setImmediate(resolve))

describe('event delivery across nodes', () => {
  it('hands each event of an eventing channel to one connection on one node', async (t) => {
    const { events, subscribe, metrics } = twoNodes(t)
    const sinks = [0, 0, 1, 1].map((node) => ({ node, sink: new FrameLog('ch-e', 'eventing') }))
    for (const { node, sink } of sinks) {
      subscribe(node, sink, { id: 'a', events: ['projectevents'] })
      subscribe(node, sink, { id: 'b', events: ['projectevents.tick'] })
    }
    for (let n = 0; n < 300; n++) events.emitProject('d1', 'tick', { n })
    await delivered()
    const all = sinks.flatMap(({ sink }) => sink.numbers()).sort((a, b) => a - b)
    assert.deepEqual(
      all,
      Array.from({ length: 300 }, (_, n) => n),
      'each event exactly once over both nodes',
    )
    for (const { sink } of sinks) assert.ok(sink.frames.length > 0, 'spread over the connections of both nodes')
    const text = await metrics.render()
    assert.match(text, /switchboard_events_emitted_total\{class="projectevents"\} 300/)
    assert.match(text, /switchboard_events_delivered_total\{class="projectevents"\} 300/)
  })

  it('passes over a closing connection of an eventing channel: its events go to one that is open', async (t) => {
    const { events, subscribe } = twoNodes(t)
    const closing = new FrameLog('ch-c', 'eventing')
    const open = new FrameLog('ch-c', 'eventing')
    subscribe(0, closing, { id: 'a', events: ['projectevents'] })
    subscribe(0, open, { id: 'a', events: ['projectevents'] })
    closing.open = false
    for (let n = 0; n < 10; n++) events.emitProject('d1', 'tick', { n })
    await delivered()
    assert.deepEqual(closing.frames, [])
    assert.deepEqual(
      open.numbers(),
      Array.from({ length: 10 }, (_, n) => n),
    )
  })

  it('hands each event to every connection of an ordinary channel, on every node, once', async (t) => {
    const { events, subscribe } = twoNodes(t)
    const sinks = [0, 1].map((node) => ({ node, sink: new FrameLog('ch-p', 'public') }))
    for (const { node, sink } of sinks) {
      subscribe(node, sink, { id: 'a', events: ['projectevents'] })
      subscribe(node, sink, { id: 'b', events: ['projectevents.*'] })
    }
    for (let n = 0; n < 20; n++) events.emitProject('d1', 'tick', { n })
    events.emitProject('d2', 'tick', { n: 99 })
    await delivered()
    for (const { sink } of sinks) {
      assert.deepEqual(
        sink.numbers(),
        Array.from({ length: 20 }, (_, n) => n),
        'every event, in order, none of another domain',
      )
    }
  })

  it("narrows an eventing channel's model subscriptions by collection, so no node gets an event it cannot place", async (t) => {
    const { events, subscribe } = twoNodes(t)
    const users = new FrameLog('ch-m', 'eventing')
    const scripts = new FrameLog('ch-m', 'eventing')
    subscribe(0, users, { id: 'u', events: ['modelevents.data_changed'], objects: { collection: 'users' } })
    subscribe(1, scripts, { id: 's', events: ['modelevents'], objects: { collection: 'svcscripts' } })
    for (let n = 0; n < 20; n++) {
      const collection = n % 2 === 0 ? 'users' : 'svcscripts'
      events.modelChanged({ node: 'x', collection, operation: 'update', id: `e${n}`, scope: 'd1', entity: { n }, seq: n })
    }
    await delivered()
    const ids = (sink: FrameLog) => sink.frames.map((frame) => (frame as [string, { data: { id: string } }])[1].data.id)
    assert.deepEqual(
      ids(users),
      Array.from({ length: 10 }, (_, i) => `e${i * 2}`),
    )
    assert.deepEqual(
      ids(scripts),
      Array.from({ length: 10 }, (_, i) => `e${i * 2 + 1}`),
    )
  })

  it('leaves the queue group when the last subscription of a node ends, so no event is lost to it', async (t) => {
    const { events, subscribe } = twoNodes(t)
    const gone = new FrameLog('ch-x', 'eventing')
    subscribe(0, gone, { id: 'a', events: ['projectevents'] })
    subscribe(0, gone, { id: 'a', expires: 0 })
    const stays = new FrameLog('ch-x', 'eventing')
    subscribe(1, stays, { id: 'b', events: ['projectevents'] })
    for (let n = 0; n < 10; n++) events.emitProject('d1', 'tick', { n })
    await delivered()
    assert.deepEqual(gone.frames, [])
    assert.deepEqual(
      stays.numbers(),
      Array.from({ length: 10 }, (_, n) => n),
      'a stale member would have taken half',
    )
  })
})
