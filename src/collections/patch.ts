import type { TObject, TSchema } from '@sinclair/typebox'
import { isObject } from './field-paths.ts'

type JsonSchema = Record<string, unknown>

/**
 * The PATCH body schema of a collection, derived from its create body: every field optional,
 * `null` allowed on every field that is not required on create (it resets the field to its
 * default), and object fields (`opts`, `ext`, …) taking a partial object whose keys may be null.
 * `id` may be sent, but only with the entity's own value.
 */
export function patchSchemaOf(createBody: TObject, idSchema: TSchema): JsonSchema {
  const plain = JSON.parse(JSON.stringify(createBody)) as JsonSchema
  const required = new Set((plain.required as string[] | undefined) ?? [])
  const properties: Record<string, JsonSchema> = { id: JSON.parse(JSON.stringify(idSchema)) as JsonSchema }
  for (const [name, schema] of Object.entries(plain.properties as Record<string, JsonSchema>)) {
    let field = schema
    if (field.type === 'object') field = partialObject(field)
    else if (Array.isArray(field.anyOf)) {
      field = {
        ...field,
        anyOf: field.anyOf.map((option: JsonSchema) => (option.type === 'object' ? partialObject(option) : option)),
      }
    }
    properties[name] = required.has(name) ? field : nullable(field)
  }
  const { required: _omit, ...rest } = plain
  return { ...rest, properties, additionalProperties: false }
}

function partialObject(schema: JsonSchema): JsonSchema {
  const out: JsonSchema = { ...schema }
  delete out.required
  if (isObject(schema.properties)) {
    const properties: Record<string, unknown> = {}
    for (const [name, child] of Object.entries(schema.properties)) properties[name] = nullable(child as JsonSchema)
    out.properties = properties
  }
  if (isObject(schema.additionalProperties)) out.additionalProperties = nullable(schema.additionalProperties)
  return out
}

function nullable(schema: JsonSchema): JsonSchema {
  if (typeof schema.type === 'string') return { ...schema, type: [schema.type, 'null'] }
  if (Array.isArray(schema.type)) return schema.type.includes('null') ? schema : { ...schema, type: [...schema.type, 'null'] }
  if (Array.isArray(schema.anyOf)) {
    const hasNull = schema.anyOf.some((option) => isObject(option) && option.type === 'null')
    return hasNull ? schema : { ...schema, anyOf: [...schema.anyOf, { type: 'null' }] }
  }
  return schema
}

/** Names of the create-body fields that are objects (or null): PATCH merges those key by key. */
export function objectFieldsOf(createBody: TObject): ReadonlySet<string> {
  const names = new Set<string>()
  for (const [name, schema] of Object.entries(createBody.properties)) {
    const options: TSchema[] = Array.isArray(schema.anyOf) ? schema.anyOf : [schema]
    if (options.some((option) => option.type === 'object')) names.add(name)
  }
  return names
}

/**
 * SPEC §2 PATCH semantics: object fields merge key by key and a null key is deleted; other
 * fields are replaced; a null field is deleted (the collection's rules restore its default).
 */
export function mergePatch(
  before: Readonly<Record<string, unknown>>,
  patch: Readonly<Record<string, unknown>>,
  objectFields: ReadonlySet<string>,
): Record<string, unknown> {
  const next = structuredClone(before) as Record<string, unknown>
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete next[key]
    } else if (objectFields.has(key) && isObject(value)) {
      const target = isObject(next[key]) ? next[key] : {}
      for (const [inner, innerValue] of Object.entries(value)) {
        if (innerValue === null) delete target[inner]
        else target[inner] = innerValue
      }
      next[key] = target
    } else {
      next[key] = value
    }
  }
  return next
}
