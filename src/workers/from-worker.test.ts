import assert from 'node:assert/strict'
import { it } from 'node:test'
import { isFromWorker } from './from-worker.ts'
import { fromWorker } from './link-protocol.ts'

const SAMPLES: unknown[] = [
  { t: 'bus.sub', id: 1, subject: 'a.b' },
  { t: 'bus.sub', id: 1, subject: 'a.b', group: 'g' },
  { t: 'bus.sub', id: 1.5, subject: 'a.b' },
  { t: 'bus.sub', id: 1, subject: 3 },
  { t: 'bus.sub', id: 1, subject: 'a', group: 7 },
  { t: 'bus.unsub', id: 2 },
  { t: 'bus.unsub' },
  { t: 'bus.pub', subject: 's', message: { a: [1, null] } },
  { t: 'bus.pub', subject: 's', message: null },
  { t: 'bus.pub', subject: 's' },
  { t: 'bus.flush', id: 3 },
  { t: 'ready', url: 'http://x', node: 'n', firstStart: true, rootKey: null },
  { t: 'ready', url: 'http://x', node: 'n', firstStart: false, rootKey: 'sbr_x' },
  { t: 'ready', url: 'http://x', node: 'n', firstStart: 'yes', rootKey: null },
  { t: 'ready', url: 'http://x', node: 'n', firstStart: true },
  { t: 'tainted', reason: 'memory' },
  { t: 'tainted', reason: 'memory', extra: 1 },
  { t: 'stats' },
  { id: 1 },
  null,
  'ready',
  [],
]

it('agrees with the TypeBox schema of the protocol on every sample', () => {
  for (const sample of SAMPLES) assert.equal(isFromWorker(sample), fromWorker.Check(sample), JSON.stringify(sample))
})
