import assert from 'node:assert/strict'
import { it } from 'node:test'
import { parseRange } from './file-serving.ts'

it('reads one byte range the way RFC 9110 says, and ignores what it cannot serve as one', () => {
  assert.deepEqual(parseRange('bytes=0-9', 100), { start: 0, end: 9 })
  assert.deepEqual(parseRange('bytes=90-', 100), { start: 90, end: 99 })
  assert.deepEqual(parseRange('bytes=90-500', 100), { start: 90, end: 99 })
  assert.deepEqual(parseRange('bytes=-10', 100), { start: 90, end: 99 })
  assert.deepEqual(parseRange('bytes=-500', 100), { start: 0, end: 99 })
  assert.deepEqual(parseRange('BYTES=5-5', 100), { start: 5, end: 5 })
  assert.equal(parseRange('bytes=100-', 100), 'unsatisfiable')
  assert.equal(parseRange('bytes=100-200', 100), 'unsatisfiable')
  assert.equal(parseRange('bytes=-0', 100), 'unsatisfiable')
  assert.equal(parseRange('bytes=0-', 0), 'unsatisfiable')
  assert.equal(parseRange('bytes=-5', 0), 'unsatisfiable')
  for (const ignored of [
    undefined,
    'bytes=5-2',
    'bytes=0-1,5-6',
    'items=0-1',
    'bytes=-',
    'bytes=a-b',
    'bytes=99999999999999999999-',
  ]) {
    assert.equal(parseRange(ignored, 100), undefined, String(ignored))
  }
})
