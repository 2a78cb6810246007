import assert from 'node:assert/strict'
import { it } from 'node:test'
import { newNatsPrefix, TEST_NATS_URL } from '../../test/support/nats.ts'
import { ANY_JSON, busContract } from './bus.contract.ts'
import { NatsBus } from './nats-bus.ts'

// Runs against the NATS server of SWITCHBOARD_TEST_NATS_URL (bin/test sets it and starts
// the server), each test under a subject prefix of its own.
busContract('nats', ({ onMalformed }) => NatsBus.connect({ url: TEST_NATS_URL, prefix: newNatsPrefix(), onMalformed }))

it('keeps installations apart by prefix, and reports a failing handler', async (t) => {
  const prefix = newNatsPrefix()
  const failures: string[] = []
  const ours = await NatsBus.connect({ url: TEST_NATS_URL, prefix, onError: (_error, subject) => failures.push(subject) })
  const theirs = await NatsBus.connect({ url: TEST_NATS_URL, prefix: `${prefix}x` })
  t.after(async () => {
    await ours.close()
    await theirs.close()
  })
  const seen: unknown[] = []
  ours.subscribe(ANY_JSON, 's', () => {
    throw new Error('handler bug')
  })
  ours.subscribe(ANY_JSON, 's', (message, subject) => seen.push([subject, message]))
  theirs.publish(ANY_JSON, 's', 'not for us')
  await theirs.flush()
  ours.publish(ANY_JSON, 's', 'hello')
  await ours.flush()
  assert.deepEqual(seen, [['s', 'hello']])
  assert.deepEqual(failures, ['s'])
  await ours.close()
  assert.throws(() => ours.publish(ANY_JSON, 's', 'late'), /closed/)
})
