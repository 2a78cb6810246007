import assert from 'node:assert/strict'
import { it } from 'node:test'
import { ANY_JSON, busContract } from './bus.contract.ts'
import type { MalformedHandler } from './bus.ts'
import { type BusToRelay, busToRelay, IpcBus, type RelayToBus, relayToBus } from './ipc-bus.ts'
import { IpcBusRelay } from './ipc-bus-relay.ts'

/**
 * Workers on one relay, each linked as over an IPC channel: in order, later (a macrotask), as
 * JSON, and checked at the decode like the real link.
 */
function node(workers: number, onMalformed: MalformedHandler = () => {}): IpcBus[] {
  const relay = new IpcBusRelay()
  const channel =
    <T>(deliver: (message: T) => void, check: (message: unknown) => boolean) =>
    (message: T) => {
      const text = JSON.stringify(message)
      setImmediate(() => {
        const decoded: unknown = JSON.parse(text)
        if (!check(decoded)) throw new Error(`malformed IPC message ${text}`)
        deliver(decoded as T)
      })
    }
  return Array.from({ length: workers }, (_, worker) => {
    const bus: IpcBus = new IpcBus({
      send: channel<BusToRelay>(
        (message) => relay.receive(worker, message),
        (m) => busToRelay.Check(m),
      ),
      onError: () => {},
      onMalformed,
    })
    relay.attach(
      worker,
      channel<RelayToBus>(
        (message) => bus.receive(message),
        (m) => relayToBus.Check(m),
      ),
    )
    return bus
  })
}

busContract('ipc', async ({ onMalformed }) => node(1, onMalformed)[0] as IpcBus)

it('routes between workers: to every subscriber, and to one member of a queue group across workers', async () => {
  const [a, b] = node(2) as [IpcBus, IpcBus]
  const seen = { a: [] as unknown[], b: [] as unknown[], groupA: [] as unknown[], groupB: [] as unknown[] }
  a.subscribe(ANY_JSON, 'ev.>', (message) => seen.a.push(message))
  b.subscribe(ANY_JSON, 'ev.*', (message) => seen.b.push(message))
  a.subscribe(ANY_JSON, 'ev.x', (message) => seen.groupA.push(message), { group: 'g' })
  b.subscribe(ANY_JSON, 'ev.x', (message) => seen.groupB.push(message), { group: 'g' })
  await Promise.all([a.flush(), b.flush()])
  for (let i = 0; i < 10; i++) b.publish(ANY_JSON, 'ev.x', i)
  await b.flush()
  await a.flush()
  const all = Array.from({ length: 10 }, (_, i) => i)
  assert.deepEqual(seen.a, all)
  assert.deepEqual(seen.b, all)
  assert.deepEqual(
    [...seen.groupA, ...seen.groupB].sort((x, y) => (x as number) - (y as number)),
    all,
  )
  assert.ok(seen.groupA.length > 0 && seen.groupB.length > 0, 'both workers take a share')
  await Promise.all([a.close(), b.close()])
})
