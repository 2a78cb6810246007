import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AuditLog } from '../audit/audit-log.ts'
import { ANY_JSON } from '../bus/bus.contract.ts'
import { MemoryBus } from '../bus/memory-bus.ts'
import { Peers } from '../bus/peers.ts'
import { ChannelDirectory } from '../channels/channel-directory.ts'
import { integrationPointsCollection } from '../channels/integration-points-collection.ts'
import { Licensing } from '../channels/licensing.ts'
import { DomainDirectory } from '../domains/domain-directory.ts'
import { ALL_RIGHTS } from '../iam/permissions.ts'
import { openSqliteStore } from '../store/sqlite-store.ts'
import type { Doc, JsonValue } from '../store/store.ts'
import { ChangeFeed, type ChangeNotice } from './change-feed.ts'
import { createCollectionService } from './collection-service.ts'

/** How long a write waits for a node that does not confirm it. */
const CONFIRM_MS = 1000

const DOMAIN = '11111111-1111-4111-8111-111111111111'
const context = { scope: DOMAIN, actor: { kind: 'root' as const, id: 'root' }, rights: ALL_RIGHTS }

/** Polls `check` until it holds (the remote path reads the store asynchronously). */
async function eventually(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((resolve) => setImmediate(resolve))
  assert.ok(check(), 'condition never held')
}

describe('change feed', () => {
  it('publishes every change without secrets, and keeps another node’s directory current', async (t) => {
    const store = openSqliteStore(':memory:')
    await store.migrate()
    // Entities are written only into a domain that exists (collection-service.ts).
    await store.table('domains').insert(null, { id: DOMAIN, name: 'd' })
    const bus = new MemoryBus()
    const onError = (error: unknown) => assert.fail(String(error))
    const audit = new AuditLog(store, { keepCount: 100, keepMs: 60_000, retentionEveryMs: 60_000, onError })
    t.after(async () => {
      await audit.close()
      await bus.close()
      await store.close()
    })
    const notices: ChangeNotice[] = []
    bus.subscribe(ANY_JSON, 'changes.>', (message) => notices.push(message as unknown as ChangeNotice))

    // Node A writes; node B only hears the bus and reads the shared store.
    const feedA = new ChangeFeed(bus, 'node-a')
    const feedB = new ChangeFeed(bus, 'node-b')
    const channels = createCollectionService(
      integrationPointsCollection(new Licensing(new DomainDirectory(store, feedA, onError), undefined), () => ALL_RIGHTS),
      { store, changes: feedA, audit },
    )
    const onA = new ChannelDirectory(store, feedA, onError)
    const onB = new ChannelDirectory(store, feedB, onError)

    const { entity: created } = await channels.create(context, { code: 'c', type: 'public', token_remote: 'remote-secret' })
    const token = created.token_local as string
    assert.equal(onA.byToken(token)?.channel.id, created.id, 'the writing node knows at once')
    await eventually(() => onB.byToken(token)?.channel.id === created.id)
    assert.equal(onB.byCode(DOMAIN, 'c')?.channel.id, created.id)

    const { entity: rotated } = await channels.update(context, created.id, { token_local: null })
    assert.equal(onA.byToken(token), undefined)
    await eventually(() => onB.byToken(rotated.token_local as string) !== undefined && onB.byToken(token) === undefined)

    await channels.remove(context, created.id)
    await eventually(() => onB.byId(created.id) === undefined)

    await bus.flush()
    assert.deepEqual(
      notices.map((notice) => [notice.node, notice.collection, notice.operation, notice.id, notice.scope]),
      [
        ['node-a', 'integration_points', 'create', created.id, DOMAIN],
        ['node-a', 'integration_points', 'update', created.id, DOMAIN],
        ['node-a', 'integration_points', 'delete', created.id, DOMAIN],
      ],
    )
    for (const notice of notices) {
      // No entity rides the bus (other nodes re-read the store): no secret can, whatever the collection.
      assert.equal('entity' in notice, false)
    }
  })

  it('never lets a slow reload overwrite a newer change of the same entity', async (t) => {
    const bus = new MemoryBus()
    t.after(() => bus.close())
    const feed = new ChangeFeed(bus, 'me')
    const cache = new Map<string, Doc>()
    let release: (doc: Doc) => void = () => {}
    const slowLoad = new Promise<Doc>((resolve) => {
      release = resolve
    })
    feed.mirror(
      'things',
      { put: (_scope, doc) => cache.set(doc.id, doc), remove: (id) => cache.delete(id) },
      () => slowLoad,
      (error) => assert.fail(String(error)),
    )
    const notice = (operation: string) =>
      ({ node: 'other', collection: 'things', operation, id: 'x', scope: null, seq: 1 }) as unknown as JsonValue
    bus.publish(ANY_JSON, 'changes.things', notice('update'))
    bus.publish(ANY_JSON, 'changes.things', notice('delete'))
    await bus.flush()
    release({ id: 'x', stale: true })
    await slowLoad
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(cache.has('x'), false)
  })

  it('fills a copy from the store without bringing back what changed while the scan ran', async (t) => {
    const bus = new MemoryBus()
    t.after(() => bus.close())
    const feed = new ChangeFeed(bus, 'me')
    const cache = new Map<string, Doc>()
    const mirror = feed.mirror(
      'things',
      { put: (_scope, doc) => cache.set(doc.id, doc), remove: (id) => cache.delete(id) },
      async () => undefined,
      (error) => assert.fail(String(error)),
    )
    let answer: (rows: { scope: null; doc: Doc }[]) => void = () => {}
    const seeding = mirror.seed(
      () =>
        new Promise((resolve) => {
          answer = resolve
        }),
    )
    // Another node deletes x while this one's scan, which still saw x, is on its way.
    bus.publish(ANY_JSON, 'changes.things', {
      node: 'other',
      collection: 'things',
      operation: 'delete',
      id: 'x',
      scope: null,
      seq: 1,
    })
    await bus.flush()
    answer([
      { scope: null, doc: { id: 'x', stale: true } },
      { scope: null, doc: { id: 'y' } },
    ])
    await seeding
    assert.deepEqual([...cache.keys()], ['y'], 'the deleted entity stays deleted')
  })

  it('answers a write only when the other live nodes have its change, and not later than the bound', async (t) => {
    const store = openSqliteStore(':memory:')
    await store.migrate()
    // Entities are written only into a domain that exists (collection-service.ts).
    await store.table('domains').insert(null, { id: DOMAIN, name: 'd' })
    const bus = new MemoryBus()
    const peersA = new Peers(bus, 'node-a', { everyMs: 50 })
    const peersB = new Peers(bus, 'node-b', { everyMs: 50 })
    peersA.announce()
    peersB.announce()
    t.after(async () => {
      await peersA.close()
      await peersB.close()
      await bus.close()
      await store.close()
    })
    const onError = (error: unknown) => assert.fail(String(error))
    const unconfirmed: string[][] = []
    const feedA = new ChangeFeed(bus, 'node-a', {
      peers: peersA,
      confirmTimeoutMs: CONFIRM_MS,
      onUnconfirmed: (nodes) => unconfirmed.push([...nodes]),
    })
    const onB = new ChannelDirectory(store, new ChangeFeed(bus, 'node-b', { peers: peersB }), onError)
    const audit = new AuditLog(store, { keepCount: 100, keepMs: 60_000, retentionEveryMs: 60_000, onError })
    t.after(() => audit.close())
    const channels = createCollectionService(
      integrationPointsCollection(new Licensing(new DomainDirectory(store, feedA, onError), undefined), () => ALL_RIGHTS),
      { store, changes: feedA, audit },
    )
    await eventually(() => peersA.live().includes('node-b'))

    // No waiting after the answer: node B's copy is current when the write returns.
    const { entity: created } = await channels.create(context, { code: 'c', type: 'public' })
    assert.equal(onB.byToken(created.token_local as string)?.channel.id, created.id)
    const { entity: rotated } = await channels.update(context, created.id, { token_local: null })
    assert.equal(onB.byToken(created.token_local as string), undefined, 'the old token fails on B at once')
    assert.equal(onB.byToken(rotated.token_local as string)?.channel.id, created.id)
    assert.deepEqual(unconfirmed, [])

    // A node that is alive but does not confirm (stuck) holds a write back only up to the bound.
    const stuck = new Peers(bus, 'node-c', { everyMs: 50 })
    stuck.announce()
    await eventually(() => peersA.live().includes('node-c'))
    const began = performance.now()
    await channels.update(context, created.id, { opts: { title: 'T' } })
    assert.ok(performance.now() - began >= CONFIRM_MS - 50)
    assert.deepEqual(unconfirmed, [['node-c']])

    // A node that says goodbye is not waited for: the write goes on at once.
    const waiting = channels.update(context, created.id, { opts: { title: 'U' } })
    const leaving = performance.now()
    await stuck.close()
    await waiting
    assert.ok(performance.now() - leaving < CONFIRM_MS - 50, 'released by the goodbye, not by the bound')
    assert.deepEqual(unconfirmed, [['node-c']])
  })
})
