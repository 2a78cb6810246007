import assert from 'node:assert/strict'
import { it } from 'node:test'
import { decodeBytes, encodeBytes } from './bytes-codec.ts'

it('carries Uint8Array values through JSON and back, anywhere in a value, sharing what has none', () => {
  const bytes = new Uint8Array([0, 1, 2, 250, 255])
  const value = ['a.bin', { data: bytes, nested: [bytes.subarray(1, 3)] }, { plain: { x: 1 } }, null, 7]
  const encoded = encodeBytes(value) as unknown[]
  assert.deepEqual(JSON.parse(JSON.stringify(encoded)), [
    'a.bin',
    { data: { $bytes: 'AAEC+v8=' }, nested: [{ $bytes: 'AQI=' }] },
    { plain: { x: 1 } },
    null,
    7,
  ])
  assert.equal(encoded[2], value[2], 'an unchanged part is the same object')
  const decoded = decodeBytes(JSON.parse(JSON.stringify(encoded))) as [string, { data: Uint8Array; nested: Uint8Array[] }]
  assert.deepEqual(decoded[1].data, bytes)
  assert.deepEqual(decoded[1].nested[0], new Uint8Array([1, 2]))
  assert.deepEqual(decodeBytes({ $bytes: 'AQI=', other: 1 }), { $bytes: 'AQI=', other: 1 }, 'only a lone $bytes key is bytes')
})
