import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { capabilityRole, ROLES } from './support/iam.ts'
import { CHANNELS, type Client, json, SCRIPTS, startServer, USERS } from './support/server.ts'
import { TestSocket } from './support/ws-client.ts'

type Frame = [string, Record<string, unknown>]

/** A sync webhook channel whose script is `source` (it emits the events); returns a sender. */
const DELIVER_SECRET = `whsec_${Buffer.from('a delivery secret of 32 bytes!!!').toString('base64')}`

async function emitter(root: Client, url: string, source: string): Promise<(body?: unknown) => Promise<Response>> {
  assert.equal((await root.post(SCRIPTS, { code: 'emit', source })).status, 200)
  // A minute: the slow-subscriber test emits 3000 events of 8 KB, slow on a loaded machine.
  const reply = await root.post(CHANNELS, {
    code: 'source',
    type: 'public',
    recv_svcscriptcode: 'emit',
    opts: { issync: true, recv_timeout: 60 },
  })
  assert.equal(reply.status, 200, reply.text)
  const token = json(reply).token_local as string
  return async (body = {}) => {
    const answer = await fetch(`${url}/exec`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    assert.equal(answer.status, 200, await answer.clone().text())
    return answer
  }
}

async function connect(url: string, token: string, t: { after(fn: () => void): void }): Promise<TestSocket> {
  const client = new TestSocket(`${url.replace('http', 'ws')}/ws/token/v1/${token}`)
  t.after(() => client.socket.close())
  await client.opened()
  return client
}

async function subscribe(client: TestSocket, payload: Record<string, unknown>): Promise<Record<string, unknown>> {
  const qid = `sub-${String(payload.id)}-${Math.random()}`
  client.send(['subscribe', { qid, ...payload }])
  const { qid: _qid, ...answer } = (await client.answer('subscribe_result', qid))[1]
  return answer
}

/** Every frame sent to the client so far has arrived once this round trip is answered. */
async function settled(client: TestSocket): Promise<void> {
  const qid = `settle-${Math.random()}`
  client.send(['connection_info', { qid }])
  await client.answer('connection_info_result', qid)
}

function takeEvents(client: TestSocket): Frame[] {
  const events = client.frames.filter(([name]) => name === 'event') as Frame[]
  client.frames.splice(0, client.frames.length, ...client.frames.filter(([name]) => name !== 'event'))
  return events
}

/** A channel whose token may subscribe: `subscr` in its filter and a role with /ws#subscr. */
async function channel(root: Client, code: string, type: string, opts: Record<string, unknown> = {}) {
  const roles = [await capabilityRole(root, ['subscr']), ...((opts.roles as string[] | undefined) ?? [])]
  const reply = await root.post(CHANNELS, { code, type, opts: { filter_capabilities: ['subscr'], ...opts, roles } })
  assert.equal(reply.status, 200, reply.text)
  return json(reply) as { id: string; token_local: string }
}

describe('events and subscriptions (SPEC §8)', () => {
  it('gives each event of an eventing channel to exactly one of its connections', async (t) => {
    const { root, url } = await startServer(t)
    const send = await emitter(root, url, 'for (let n = 0; n < startparam(4).count; n++) await events.emit("tick", { n })')
    const bus = await channel(root, 'bus', 'eventing')
    const clients = await Promise.all([1, 2, 3].map(() => connect(url, bus.token_local, t)))
    for (const client of clients) {
      // Two matching subscriptions on every connection: still one frame per event, naming both.
      const answer = await subscribe(client, { id: 'all', events: ['projectevents'], expires: 60 })
      assert.deepEqual(answer, { result: 'ok', id: 'all', expires: 60 })
      await subscribe(client, { id: 'ticks', events: ['projectevents.tick'], expires: 60 })
    }
    await send({ count: 200 })
    await Promise.all(clients.map(settled))

    const seen: number[] = []
    for (const client of clients) {
      const events = takeEvents(client)
      assert.ok(events.length > 0, 'the channel spreads its events over its connections')
      for (const [, event] of events) {
        assert.equal(event.class, 'projectevents')
        assert.equal(event.name, 'tick')
        assert.deepEqual(event.subscriptions, ['all', 'ticks'])
        assert.match(String(event.id), /^[0-9a-f-]{36}$/)
        assert.ok(!Number.isNaN(Date.parse(String(event.ts))))
        seen.push((event.data as { n: number }).n)
      }
    }
    assert.equal(seen.length, 200, 'never twice')
    assert.deepEqual(
      seen.sort((a, b) => a - b),
      Array.from({ length: 200 }, (_, n) => n),
      'none lost',
    )
  })

  it('gives each connection of an ordinary channel each matching event once', async (t) => {
    const { root, url } = await startServer(t)
    const send = await emitter(root, url, 'for (let n = 0; n < 50; n++) await events.emit(n % 2 ? "odd" : "even", { n })')
    const pub = await channel(root, 'listeners', 'public')
    const [a, b, other] = (await Promise.all([1, 2, 3].map(() => connect(url, pub.token_local, t)))) as TestSocket[]
    for (const client of [a, b] as TestSocket[]) {
      await subscribe(client, { id: 1, events: ['projectevents.*'], expires: 60 })
      await subscribe(client, { id: 'odd', events: ['projectevents.odd'], expires: 60 })
    }
    await subscribe(other as TestSocket, { id: 'x', events: ['projectevents.unrelated'], expires: 60 })
    await send()
    for (const client of [a, b, other] as TestSocket[]) await settled(client)
    for (const client of [a, b] as TestSocket[]) {
      const events = takeEvents(client)
      assert.deepEqual(
        events.map(([, event]) => (event.data as { n: number }).n),
        Array.from({ length: 50 }, (_, n) => n),
        'each event once, in order',
      )
      for (const [, event] of events) {
        const odd = (event.data as { n: number }).n % 2 === 1
        assert.deepEqual(event.subscriptions, odd ? [1, 'odd'] : [1])
      }
    }
    assert.deepEqual(takeEvents(other as TestSocket), [], 'no matching subscription, no events')
  })

  it('renews, changes, removes and expires subscriptions', async (t) => {
    const { root, url } = await startServer(t)
    const send = await emitter(root, url, 'await events.emit(startparam(4).name, { n: startparam(4).n })')
    const pub = await channel(root, 'renewing', 'public')
    const client = await connect(url, pub.token_local, t)
    const names = async () => {
      await settled(client)
      return takeEvents(client).map(([, event]) => `${event.name}:${(event.data as { n: number }).n}`)
    }

    await subscribe(client, { id: 'a', events: ['projectevents.x'], expires: 60 })
    await send({ name: 'x', n: 1 })
    assert.deepEqual(await names(), ['x:1'])
    // The same id renews and may change what it asks for.
    assert.equal((await subscribe(client, { id: 'a', events: ['projectevents.y'], expires: 30 })).expires, 30)
    await send({ name: 'x', n: 2 })
    await send({ name: 'y', n: 3 })
    assert.deepEqual(await names(), ['y:3'])
    // expires: 0 removes it (and removing an unknown id is fine).
    assert.deepEqual(await subscribe(client, { id: 'a', expires: 0 }), { result: 'ok', id: 'a', expires: 0 })
    await send({ name: 'y', n: 4 })
    assert.deepEqual(await names(), [])
    // An expired subscription stops delivering.
    await subscribe(client, { id: 'short', events: ['projectevents.y'], expires: 1 })
    await send({ name: 'y', n: 5 })
    assert.deepEqual(await names(), ['y:5'])
    await new Promise((resolve) => setTimeout(resolve, 1100)) // the subscription's own lifetime
    await send({ name: 'y', n: 6 })
    assert.deepEqual(await names(), [])
  })

  it('sends model changes without secrets to channels whose user may read them', async (t) => {
    const { root, url } = await startServer(t)
    const admin = json(await root.post(USERS, { login: 'watcher', roles: ['admin'] }))
    const plain = json(await root.post(USERS, { login: 'nobody' }))
    const allowed = await channel(root, 'watch', 'eventing', { userid: admin.id })
    const refused = await channel(root, 'peek', 'eventing', { userid: plain.id })
    const anonymous = await channel(root, 'anon', 'eventing')

    for (const token of [refused.token_local, anonymous.token_local]) {
      const client = await connect(url, token, t)
      client.send(['subscribe', { qid: 'm', id: 'm', events: ['modelevents.data_changed'], expires: 60 }])
      const [, answer] = await client.answer('subscribe_result', 'm')
      assert.deepEqual([answer.result, answer.error_code], ['error', 1403])
      assert.equal(
        answer.error_message,
        "the token's rights do not allow reading any collection: give the channel (opts.roles) or its opts.userid user a role that may GET the collection",
      )
      client.send(['subscribe', { qid: 'p', id: 'p', events: ['modelevents'], objects: { collection: 'users' }, expires: 60 }])
      assert.match(String((await client.answer('subscribe_result', 'p'))[1].error_message), /do not allow reading 'users'/)
    }

    // The channel's own roles are enough: no opts.userid needed (SPEC §10: the token's rights).
    await root.post(ROLES, { code: 'channel-reader', permissions: [{ route: CHANNELS, methods: ['GET'] }] })
    const byRole = await channel(root, 'by-role', 'eventing', { roles: ['channel-reader'] })
    const roleClient = await connect(url, byRole.token_local, t)
    roleClient.send(['subscribe', { qid: 'u', id: 'u', events: ['modelevents'], objects: { collection: 'users' }, expires: 60 }])
    assert.match(String((await roleClient.answer('subscribe_result', 'u'))[1].error_message), /do not allow reading 'users'/)
    assert.deepEqual(await subscribe(roleClient, { id: 'all', events: ['modelevents.data_changed'], expires: 60 }), {
      result: 'ok',
      id: 'all',
      expires: 60,
    })

    const client = await connect(url, allowed.token_local, t)
    await subscribe(client, {
      id: 'channels',
      events: ['modelevents.data_changed'],
      objects: { collection: 'integration_points', operation: ['create', 'delete'] },
      expires: 60,
    })
    await root.post(SCRIPTS, { code: 'unrelated', source: 'return 1' })
    const created = json(
      await root.post(CHANNELS, {
        code: 'crm',
        type: 'public',
        token_remote: 'secret-1',
        token_remote2: 'secret-2',
        // Write-only secrets inside opts: events carry them masked (secret…ying), never whole.
        opts: { verify: { scheme: 'github', secrets: ['secret-3-for-verifying'] }, deliver: { secret: DELIVER_SECRET } },
      }),
    )
    await root.patch(`${CHANNELS}/${String(created.id)}`, { opts: { title: 'CRM' } })
    await root.delete(`${CHANNELS}/${String(created.id)}`)
    // The role-only subscriber hears the channel changes it may read, and nothing of the scripts.
    const heard = []
    for (let i = 0; i < 3; i++) heard.push((await roleClient.next(([name]) => name === 'event'))[1])
    assert.deepEqual(
      heard.map((event) => [(event.data as { collection: string }).collection, (event.data as { operation: string }).operation]),
      [
        ['integration_points', 'create'],
        ['integration_points', 'update'],
        ['integration_points', 'delete'],
      ],
    )
    const [, first] = await client.next(([name]) => name === 'event')
    const [, second] = await client.next(([name]) => name === 'event')
    await settled(client)
    assert.deepEqual(takeEvents(client), [], 'the update and the script were filtered out')
    assert.deepEqual([first.class, first.name, first.subscriptions], ['modelevents', 'data_changed', ['channels']])
    const data = first.data as { collection: string; operation: string; id: string; entity: Record<string, unknown> }
    assert.deepEqual([data.collection, data.operation, data.id], ['integration_points', 'create', created.id])
    assert.equal(data.entity.code, 'crm')
    for (const secret of ['token_local', 'token_remote', 'token_remote2']) assert.equal(secret in data.entity, false, secret)
    assert.deepEqual((second.data as { operation: string }).operation, 'delete')
    assert.equal(JSON.stringify([first, second]).includes('secret-'), false)
    assert.equal(JSON.stringify([first, second]).includes(DELIVER_SECRET), false)
    assert.deepEqual((data.entity.opts as { verify: unknown }).verify, { scheme: 'github', secrets: ['…'] })
  })

  it('tells subscribers when connections of their channel open and close', async (t) => {
    const { root, url } = await startServer(t)
    const pub = await channel(root, 'room', 'public')
    const watcher = await connect(url, pub.token_local, t)
    await subscribe(watcher, { id: 'c', events: ['channelevents'], expires: 60 })
    const guest = await connect(url, pub.token_local, t)
    guest.send(['connection_info', { qid: 'me' }])
    const [, me] = await guest.answer('connection_info_result', 'me')
    guest.socket.close()
    const [, opened] = await watcher.next(([name, event]) => name === 'event' && event.name === 'connection_opened')
    const [, closed] = await watcher.next(([name, event]) => name === 'event' && event.name === 'connection_closed')
    const expected = { channel_id: pub.id, channel_code: 'room', connectionid: me.connectionid }
    assert.deepEqual(opened.data, expected)
    assert.deepEqual(closed.data, expected)
  })

  it('answers bad, refused and excess subscriptions with errors and keeps the connection', async (t) => {
    const { root, url } = await startServer(t, { config: { eventsMaxSubscriptions: 2, eventMaxBytes: 1024 } })
    const plain = await root.post(CHANNELS, { code: 'plain', type: 'public' })
    const noCapability = await connect(url, json(plain).token_local as string, t)
    noCapability.send(['subscribe', { qid: 1, id: 's', events: ['projectevents'], expires: 10 }])
    assert.deepEqual((await noCapability.answer('subscribe_result', 1))[1].error_code, 1403)

    const pub = await channel(root, 'strict', 'public')
    const client = await connect(url, pub.token_local, t)
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ events: ['projectevents'], expires: 10 }, /needs an id/],
      [{ id: '', events: ['projectevents'] }, /needs an id/],
      [{ id: { a: 1 }, events: ['projectevents'] }, /needs an id/],
      [{ id: 's', events: ['bogus.thing'], expires: 10 }, /unknown event class 'bogus'/],
      [{ id: 's', events: ['modelevents.nope'], expires: 10 }, /unknown event 'modelevents.nope'/],
      [{ id: 's', events: ['projectevents.a b'], expires: 10 }, /project event name/],
      [{ id: 's', events: [], expires: 10 }, /events must be a list/],
      [{ id: 's', events: 'projectevents', expires: 10 }, /events must be a list/],
      [{ id: 's', events: [7], expires: 10 }, /must be strings/],
      [{ id: 's', events: ['projectevents'], expires: 3601 }, /expires must be/],
      [{ id: 's', events: ['projectevents'], expires: -1 }, /expires must be/],
      [{ id: 's', events: ['projectevents'], expires: 1.5 }, /expires must be/],
      [{ id: 's', events: ['projectevents'], objects: [1], expires: 10 }, /objects must be an object/],
      [{ id: 's', events: ['projectevents'], objects: { a: { b: 1 } }, expires: 10 }, /objects.a must be/],
      [{ id: 's', events: ['projectevents'], objects: { 'a..b': 1 }, expires: 10 }, /not a field path/],
      [{ id: 's', events: ['modelevents'], objects: { collection: 'jobs' }, expires: 10 }, /'jobs' is not a collection/],
    ]
    for (const [index, [payload, message]] of bad.entries()) {
      client.send(['subscribe', { qid: index, ...payload }])
      const [, answer] = await client.answer('subscribe_result', index)
      assert.deepEqual([answer.result, answer.error_code], ['error', 1400], JSON.stringify(payload))
      assert.match(String(answer.error_message), message)
    }
    client.send(['subscribe', { id: 's', events: ['nope'] }])
    const [, unanswered] = await client.next(([name]) => name === 'error')
    assert.equal(unanswered.error_code, 1400, 'without a qid the error comes as an error frame')

    await subscribe(client, { id: 1, events: ['projectevents'], expires: 10 })
    await subscribe(client, { id: '1', events: ['projectevents'], expires: 10 })
    client.send(['subscribe', { qid: 'third', id: 3, events: ['projectevents'], expires: 10 }])
    const [, third] = await client.answer('subscribe_result', 'third')
    assert.equal(third.error_code, 1429)
    assert.match(String(third.error_message), /at most 2 subscriptions/)
    assert.equal(
      (await subscribe(client, { id: 1, events: ['projectevents.x'], expires: 5 })).result,
      'ok',
      'renewal still works',
    )

    // Scripts: a bad name or oversized data fails the execution, and nothing is emitted.
    const send = await emitter(
      root,
      url,
      'try { await events.emit(startparam(4).name, startparam(4).data) } catch (e) { return e.message }\nreturn "sent"',
    )
    for (const [body, message] of [
      [{ name: 'has.dot', data: 1 }, /the name must be/],
      [{ name: 'big', data: 'x'.repeat(2000) }, /the limit is 1024/],
    ] as const) {
      assert.match(await (await send(body)).text(), message)
    }
    await settled(client)
    assert.deepEqual(takeEvents(client), [])
    client.send(['connection_info', { qid: 'alive' }])
    assert.equal((await client.answer('connection_info_result', 'alive'))[1].result, 'ok')
  })

  it('drops and counts events for a subscriber that does not read, instead of buffering them', async (t) => {
    const { root, url } = await startServer(t, { config: { eventsMaxBacklogBytes: 16 << 10 } })
    const send = await emitter(
      root,
      url,
      'const pad = "x".repeat(8000)\nawait Promise.all(Array.from({ length: 3000 }, (_, n) => events.emit("big", { n, pad })))',
    )
    const pub = await channel(root, 'slow', 'public')
    const client = await connect(url, pub.token_local, t)
    await subscribe(client, { id: 'big', events: ['projectevents.big'], expires: 60 })
    client.socket.pause()
    await send()
    client.socket.resume()
    client.send(['connection_info', { qid: 'after' }])
    const [, info] = await client.answer('connection_info_result', 'after', 20_000)
    const received = takeEvents(client).length
    const dropped = info.events_dropped as number
    assert.ok(dropped > 0, `some events were dropped (received ${received})`)
    assert.ok(received > 0, 'events were delivered until the backlog filled')
    assert.equal(received + dropped, 3000, 'every event was either delivered or counted as dropped')
    assert.equal(client.socket.readyState, client.socket.OPEN, 'the connection stays open')
  })
})
