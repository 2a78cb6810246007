import assert from 'node:assert/strict'
import { it } from 'node:test'
import { changedFields, changedValues } from './changed-fields.ts'

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

it('withholds a whole object set or removed at once when a secret lies inside it', () => {
  const before = {
    opts: { verify: { scheme: 'github', secrets: ['gh-secret-1'] }, deliver: { url: 'https://x', secret: 'whsec_1' } },
  }
  const after = { opts: { verify: null, deliver: null, title: 'kept' } }
  const fields = changedFields(before, after)
  assert.deepEqual(fields, ['opts.verify', 'opts.deliver', 'opts.title'])
  const changes = changedValues(before, after, fields, ['token_local'])
  assert.deepEqual(changes, [
    { field: 'opts.verify', withheld: 'secret' },
    { field: 'opts.deliver', withheld: 'secret' },
    { field: 'opts.title', after: 'kept' },
  ])
  assert.ok(!JSON.stringify(changes).includes('secret-1') && !JSON.stringify(changes).includes('whsec_1'))
  // The parent of a secret the collection names is withheld too.
  assert.deepEqual(changedValues({ a: { tok: 's' } }, { a: null }, ['a'], ['a.tok']), [{ field: 'a', withheld: 'secret' }])
})
