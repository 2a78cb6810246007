import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Type } from '@sinclair/typebox'
import { mergePatch, objectFieldsOf, patchSchemaOf } from './patch.ts'

const Create = Type.Object(
  {
    code: Type.String({ minLength: 1 }),
    name: Type.Optional(Type.String()),
    tags: Type.Optional(Type.Array(Type.String())),
    opts: Type.Optional(Type.Object({ a: Type.Integer(), b: Type.String() }, { additionalProperties: false })),
    limits: Type.Optional(Type.Union([Type.Object({}, { additionalProperties: Type.Integer() }), Type.Null()])),
  },
  { additionalProperties: false },
)

describe('PATCH bodies', () => {
  it('derive their schema from the create body: optional, nullable unless required, partial objects', () => {
    const schema = patchSchemaOf(Create, Type.String({ pattern: '^id$' }))
    const properties = schema.properties as Record<string, Record<string, unknown>>
    assert.deepEqual(Object.keys(properties), ['id', 'code', 'name', 'tags', 'opts', 'limits'])
    assert.equal(schema.required, undefined)
    assert.equal(schema.additionalProperties, false)
    assert.equal(properties.code?.type, 'string', 'a required field may not be null')
    assert.deepEqual(properties.name?.type, ['string', 'null'])
    assert.deepEqual(properties.tags?.type, ['array', 'null'])
    assert.deepEqual(properties.opts?.type, ['object', 'null'])
    assert.equal(properties.opts?.required, undefined)
    const optsProperties = properties.opts?.properties as Record<string, { type: unknown }>
    assert.deepEqual(optsProperties.a?.type, ['integer', 'null'])
    const limits = properties.limits?.anyOf as Record<string, unknown>[]
    const perType = limits[0]?.additionalProperties as { type: unknown }
    assert.deepEqual(perType.type, ['integer', 'null'])
    assert.deepEqual(objectFieldsOf(Create), new Set(['opts', 'limits']))
  })

  it('merge objects key by key, delete null keys and fields, replace the rest, never touch the input', () => {
    const before = { id: '1', code: 'c', name: 'n', tags: ['a', 'b'], opts: { a: 1, b: 'x' }, limits: { p: 1 } }
    const merged = mergePatch(
      before,
      { name: null, tags: ['c'], opts: { a: 2, b: null }, limits: { q: 2 } },
      objectFieldsOf(Create),
    )
    assert.deepEqual(merged, { id: '1', code: 'c', tags: ['c'], opts: { a: 2 }, limits: { p: 1, q: 2 } })
    assert.deepEqual(before, { id: '1', code: 'c', name: 'n', tags: ['a', 'b'], opts: { a: 1, b: 'x' }, limits: { p: 1 } })
    assert.deepEqual(mergePatch({ id: '1', limits: null }, { limits: { q: 1 } }, objectFieldsOf(Create)), {
      id: '1',
      limits: { q: 1 },
    })
  })
})
