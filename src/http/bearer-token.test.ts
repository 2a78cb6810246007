import assert from 'node:assert/strict'
import { it } from 'node:test'
import { bearerToken } from './bearer-token.ts'

it('reads one grammar of Authorization: Bearer', () => {
  for (const header of ['Bearer abc', 'bearer abc', 'BEARER abc', 'Bearer\tabc', 'Bearer   abc  ', 'Bearer abc\t']) {
    assert.equal(bearerToken(header), 'abc', JSON.stringify(header))
  }
  assert.equal(bearerToken('Bearer sbk_a-b.c~d+e/f=='), 'sbk_a-b.c~d+e/f==')
  for (const header of [
    undefined,
    '',
    'Bearer',
    'Bearer ',
    'Bearer abc def',
    'Basic abc',
    'Bearerabc',
    ' Bearer abc',
    'Bearer ab\u00e9c',
    'Bearer a\u0000b',
  ]) {
    assert.equal(bearerToken(header), undefined, JSON.stringify(header))
  }
})
