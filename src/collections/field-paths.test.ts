import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Type } from '@sinclair/typebox'
import { fieldPathProblem, flatten, project } from './field-paths.ts'

const Entity = Type.Object(
  {
    id: Type.String(),
    opts: Type.Object({ title: Type.String(), roles: Type.Array(Type.String()) }, { additionalProperties: false }),
    ext: Type.Object({ ct: Type.String() }, { additionalProperties: true }),
    license: Type.Union([Type.Object({}, { additionalProperties: Type.Integer() }), Type.Null()]),
  },
  { additionalProperties: false },
)

describe('field paths', () => {
  it('accept fields of the entity, free keys below open objects, and nothing else', () => {
    for (const ok of ['id', 'opts', 'opts.title', 'opts.roles', 'ext.ct', 'ext.anything', 'license']) {
      assert.equal(fieldPathProblem(Entity, ok), undefined, ok)
    }
    assert.match(fieldPathProblem(Entity, 'nope') ?? '', /unknown field 'nope'/)
    assert.match(fieldPathProblem(Entity, 'opts.nope') ?? '', /unknown field/)
    assert.match(fieldPathProblem(Entity, 'id.x') ?? '', /'id' has no fields/)
    assert.match(fieldPathProblem(Entity, 'opts.roles.0') ?? '', /has no fields/)
    assert.match(fieldPathProblem(Entity, 'opts..title') ?? '', /not a valid field path/)
    assert.match(fieldPathProblem(Entity, 'ext.a"b') ?? '', /not a valid field path/)
    assert.match(fieldPathProblem(Entity, '__proto__') ?? '', /unknown field/)
  })

  it('project masks into nested objects and flatten composite fields to dotted keys', () => {
    const entity = { id: '1', opts: { title: 'T', roles: ['a'] }, ext: { ct: 'now', empty: {} } }
    assert.deepEqual(project(entity, [['id'], ['opts', 'title'], ['ext', 'missing']]), { id: '1', opts: { title: 'T' } })
    assert.deepEqual(flatten(entity), { id: '1', 'opts.title': 'T', 'opts.roles': ['a'], 'ext.ct': 'now', 'ext.empty': {} })
  })
})
