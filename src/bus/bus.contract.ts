import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
import { Type } from '@sinclair/typebox'
import type { JsonValue } from '../store/store.ts'
import type { Bus, MalformedHandler } from './bus.ts'
import { topic } from './topic.ts'

/** Any JSON: the contract's own messages. */
const ANY = topic('test', Type.Unsafe<JsonValue>(Type.Unknown()))
const NUMBERED = topic('numbered', Type.Object({ n: Type.Number() }))

/** Resolves with the first `count` messages `subscribe` receives. */
function collect(bus: Bus, subject: string, count: number, group?: string): Promise<JsonValue[]> & { seen: JsonValue[] } {
  const seen: JsonValue[] = []
  const done = new Promise<JsonValue[]>((resolve) => {
    bus.subscribe(
      ANY,
      subject,
      (message) => {
        seen.push(message)
        if (seen.length === count) resolve(seen)
      },
      group === undefined ? {} : { group },
    )
  })
  return Object.assign(done, { seen })
}

/** The promises of the `Bus` interface, for every implementation. */
/** A topic that takes any JSON, for tests that publish and subscribe outside the catalogue. */
export const ANY_JSON = ANY

export function busContract(label: string, open: (options: { onMalformed: MalformedHandler }) => Promise<Bus>): void {
  const malformed: string[] = []
  async function fresh(t: TestContext): Promise<Bus> {
    const bus = await open({ onMalformed: (name, subject) => malformed.push(`${name} ${subject}`) })
    t.after(() => bus.close())
    return bus
  }

  describe(`${label} bus`, () => {
    it('delivers to every subscriber, in publish order, never inside publish', async (t) => {
      const bus = await fresh(t)
      const a = collect(bus, 'ch.a', 3)
      const b = collect(bus, 'ch.a', 3)
      for (const n of [1, 2, 3]) bus.publish(ANY, 'ch.a', { n })
      assert.equal(a.seen.length, 0, 'delivery is asynchronous')
      assert.deepEqual(await a, [{ n: 1 }, { n: 2 }, { n: 3 }])
      assert.deepEqual(await b, [{ n: 1 }, { n: 2 }, { n: 3 }])
    })

    it('matches * and > wildcards and nothing else', async (t) => {
      const bus = await fresh(t)
      const star = collect(bus, 'ev.*.x', 1)
      const tail = collect(bus, 'ev.>', 3)
      const other = collect(bus, 'ev.b', 1)
      bus.publish(ANY, 'ev.a.x', 1)
      bus.publish(ANY, 'ev.a.y.z', 2)
      bus.publish(ANY, 'ev', 'not ev.>')
      bus.publish(ANY, 'ev.c', 3)
      assert.deepEqual(await star, [1])
      assert.deepEqual(await tail, [1, 2, 3])
      await bus.flush()
      assert.deepEqual(other.seen, [])
    })

    it('gives each message of a queue group to one member only', async (t) => {
      const bus = await fresh(t)
      const members = [collect(bus, 'work', 100, 'g'), collect(bus, 'work', 100, 'g'), collect(bus, 'work', 100, 'g')]
      const everyone = collect(bus, 'work', 30)
      for (let i = 0; i < 30; i++) bus.publish(ANY, 'work', i)
      await everyone
      await bus.flush()
      const received = members.flatMap((member) => member.seen).sort((x, y) => (x as number) - (y as number))
      assert.deepEqual(
        received,
        Array.from({ length: 30 }, (_, i) => i),
      )
    })

    it('treats a queue group as one over all its subjects: a message matching several goes to one member', async (t) => {
      const bus = await fresh(t)
      // Two members listen to different subjects in one group; both match `ev.a.x`.
      const wide = collect(bus, 'ev.a.>', 100, 'g')
      const narrow = collect(bus, 'ev.a.x', 100, 'g')
      const everyone = collect(bus, 'ev.>', 40)
      for (let i = 0; i < 20; i++) bus.publish(ANY, 'ev.a.x', i)
      for (let i = 20; i < 40; i++) bus.publish(ANY, 'ev.a.y', i)
      await everyone
      await bus.flush()
      const received = [...wide.seen, ...narrow.seen].sort((x, y) => (x as number) - (y as number))
      assert.deepEqual(
        received,
        Array.from({ length: 40 }, (_, i) => i),
        'each message once in the group',
      )
      assert.ok(
        narrow.seen.every((n) => (n as number) < 20),
        'a member only gets messages of its own subject',
      )
    })

    it('hands each receiver its own copy', async (t) => {
      const bus = await fresh(t)
      const first = collect(bus, 'copy', 1)
      const second = collect(bus, 'copy', 1)
      const sent = { list: [1] }
      bus.publish(ANY, 'copy', sent)
      const [a] = await first
      const [b] = await second
      ;(a as { list: number[] }).list.push(2)
      assert.deepEqual(b, { list: [1] })
      assert.deepEqual(sent, { list: [1] })
      assert.notEqual(a, sent)
    })

    it('stops delivering after unsubscribe', async (t) => {
      const bus = await fresh(t)
      const seen: JsonValue[] = []
      const subscription = bus.subscribe(ANY, 'u', (message) => seen.push(message))
      bus.publish(ANY, 'u', 1)
      await bus.flush()
      subscription.unsubscribe()
      bus.publish(ANY, 'u', 2)
      await bus.flush()
      assert.deepEqual(seen, [1])
    })

    it('hands a subscription only messages of its topic: others are reported and dropped', async (t) => {
      const bus = await fresh(t)
      malformed.length = 0
      const seen: number[] = []
      bus.subscribe(NUMBERED, 'typed', (message) => seen.push(message.n))
      bus.publish(ANY, 'typed', { n: 1 })
      bus.publish(ANY, 'typed', { n: 'two' })
      bus.publish(ANY, 'typed', 'three')
      bus.publish(ANY, 'typed', { n: 4 })
      await bus.flush()
      const last = collect(bus, 'typed', 1)
      bus.publish(ANY, 'typed', { n: 5 })
      await last
      assert.deepEqual(seen, [1, 4, 5])
      assert.deepEqual(malformed, ['numbered typed', 'numbered typed'])
    })
  })
}
