import assert from 'node:assert/strict'
import { it } from 'node:test'
import { jsonTooDeep } from './json-depth.ts'

it('measures nesting outside strings', () => {
  assert.equal(jsonTooDeep('{"a":[1,{"b":[]}]}', 4), false)
  assert.equal(jsonTooDeep('{"a":[1,{"b":[]}]}', 3), true)
  assert.equal(jsonTooDeep('{"a":"[[[[[[\\"[[[["}', 1), false)
  assert.equal(jsonTooDeep(`${'['.repeat(513)}${']'.repeat(513)}`), true)
  assert.equal(jsonTooDeep(`${'['.repeat(512)}${']'.repeat(512)}`), false)
})
