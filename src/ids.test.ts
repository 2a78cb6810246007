import assert from 'node:assert/strict'
import { it } from 'node:test'
import { isMaskOf, isUuid, maskSecret, newTimeOrderedId } from './ids.ts'

it('makes version 7 UUIDs that sort in the order they were made, also within one millisecond', () => {
  const before = Date.now()
  const ids = Array.from({ length: 5000 }, () => newTimeOrderedId())
  assert.deepEqual([...ids].sort(), ids)
  assert.equal(new Set(ids).size, ids.length)
  for (const id of ids.slice(0, 10)) {
    assert.ok(isUuid(id))
    assert.equal(id[14], '7', 'version 7')
    assert.match(id[19] as string, /[89ab]/, 'RFC 9562 variant')
  }
  const ms = Number.parseInt(ids[0]?.replace(/-/g, '').slice(0, 12) ?? '', 16)
  assert.ok(ms >= before && ms <= Date.now() + 5000)
})

it('masks secrets as SPEC §12 shows them, wholly when they are short', () => {
  assert.equal(maskSecret('whsec_0123456789abcdefghijabcd'), 'whsec_…abcd')
  assert.equal(maskSecret('0123456789abcdef0123456789abcdef'), '012345…cdef')
  assert.equal(maskSecret('a'.repeat(23)), '…')
  assert.equal(maskSecret(''), '')
  assert.equal(isMaskOf('012345…cdef', '0123456789abcdef0123456789abcdef'), true)
  assert.equal(isMaskOf('012345…cdeF', '0123456789abcdef0123456789abcdef'), false)
  assert.equal(isMaskOf('', ''), false, 'an empty value is not a mask')
})
