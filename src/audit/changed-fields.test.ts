import assert from 'node:assert/strict'
import { it } from 'node:test'
import { changedFields } from './changed-fields.ts'

it('names the changed leaves by dotted path, arrays as leaves, and leaves out what it is told to skip', () => {
  const before = { id: 'x', code: 'a', ipmask: ['1.2.3.4'], opts: { title: 't', roles: [] }, ext: { ct: '1', lwt: '1', mine: 1 } }
  const after = {
    id: 'x',
    code: 'b',
    ipmask: ['1.2.3.4'],
    opts: { title: 't', roles: ['r'], extra: 1 },
    ext: { ct: '1', lwt: '2' },
  }
  assert.deepEqual(changedFields(before, after, new Set(['ext.lwt'])), ['code', 'opts.roles', 'opts.extra', 'ext.mine'])
  assert.deepEqual(changedFields(before, before), [])
  assert.deepEqual(changedFields(undefined, { id: 'x', code: 'a', opts: { title: 't' } }, new Set(['id'])), [
    'code',
    'opts.title',
  ])
  assert.deepEqual(changedFields({ a: { b: 1 } }, { a: null }), ['a'])
  assert.deepEqual(changedFields({ a: 1 }, { a: { b: 1 } }), ['a'])
})
