import assert from 'node:assert/strict'
import { it } from 'node:test'
import { ANY_JSON, busContract } from './bus.contract.ts'
import { MemoryBus } from './memory-bus.ts'

busContract('memory', async ({ onMalformed }) => new MemoryBus({ onMalformed }))

it('reports a failing handler and keeps delivering to the others', async () => {
  const failures: string[] = []
  const bus = new MemoryBus({ onError: (_error, subject) => failures.push(subject) })
  const seen: unknown[] = []
  bus.subscribe(ANY_JSON, 's', () => {
    throw new Error('handler bug')
  })
  bus.subscribe(ANY_JSON, 's', (message) => seen.push(message))
  bus.publish(ANY_JSON, 's', 'hello')
  await bus.flush()
  assert.deepEqual(failures, ['s'])
  assert.deepEqual(seen, ['hello'])
  await bus.close()
  assert.throws(() => bus.publish(ANY_JSON, 's', 'late'), /closed/)
})
