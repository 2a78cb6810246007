import assert from 'node:assert/strict'
import { it } from 'node:test'
import { CloseStack, closeFailure } from './close-stack.ts'

it('closes everything in reverse order, past the closes that fail, and answers every failure', async () => {
  const closed: string[] = []
  const stack = new CloseStack()
  const broken = (name: string) => ({
    close: async () => {
      closed.push(name)
      throw new Error(`${name} would not close`)
    },
  })
  stack.push({ close: () => void closed.push('store') })
  stack.push({ close: async () => void closed.push('bus') })
  stack.push(broken('queue'))
  stack.push({ close: () => void closed.push('recorder') })
  stack.push(broken('http'))

  const errors = await stack.close()
  assert.deepEqual(closed, ['http', 'recorder', 'queue', 'bus', 'store'])
  assert.deepEqual(
    errors.map((error) => (error as Error).message),
    ['http would not close', 'queue would not close'],
  )
  assert.deepEqual(await stack.close(), [], 'each is closed once')
  assert.deepEqual(closed, ['http', 'recorder', 'queue', 'bus', 'store'])
})

it('reports several failed closes as one AggregateError that keeps each', () => {
  const errors = [new Error('http would not close'), 'a thrown string']
  const failure = closeFailure(errors)
  assert.ok(failure instanceof AggregateError)
  assert.equal(failure.message, '2 part(s) failed to close: http would not close; a thrown string')
  assert.deepEqual(failure.errors, errors)
})
