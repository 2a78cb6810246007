import type { TSchema } from '@sinclair/typebox'

/** A dotted field path (`opts.issync`) split into its parts. */
export type FieldPath = readonly string[]

/**
 * Why `dotted` is not a field of entities of `schema`, or undefined when it is one.
 * Objects with free keys (`ext`, `license`) accept any sub-path; arrays and scalars end a path.
 */
export function fieldPathProblem(schema: TSchema, dotted: string): string | undefined {
  const path = dotted.split('.')
  if (path.some((part) => part === '' || part.includes('"'))) return `'${dotted}' is not a valid field path`
  let node: TSchema | undefined = schema
  for (let i = 0; i < path.length; i++) {
    const part = path[i] as string
    // A nullable object (`{…} | null`) has fields too.
    if (Array.isArray(node?.anyOf)) node = (node.anyOf as TSchema[]).find((option) => option.type === 'object') ?? node
    if (node?.type !== 'object') return `'${path.slice(0, i).join('.')}' has no fields`
    const properties = node.properties as Record<string, TSchema> | undefined
    const child: TSchema | undefined = properties && Object.hasOwn(properties, part) ? properties[part] : undefined
    if (child) {
      node = child
      continue
    }
    if (node.additionalProperties !== false && node.additionalProperties !== undefined) return undefined
    return `unknown field '${dotted}'`
  }
  return undefined
}

/** The fields of `entity` named by `paths`, nested as in the entity; absent ones are left out. */
export function project(entity: Readonly<Record<string, unknown>>, paths: readonly FieldPath[]): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const path of paths) {
    let source: unknown = entity
    for (const part of path) {
      source = isObject(source) && Object.hasOwn(source, part) ? source[part] : undefined
      if (source === undefined) break
    }
    if (source === undefined) continue
    let target = out
    for (let i = 0; i < path.length - 1; i++) {
      const part = path[i] as string
      const next = target[part]
      if (isObject(next)) target = next
      else target = target[part] = {}
    }
    target[path[path.length - 1] as string] = source
  }
  return out
}

/** Nested objects become dotted keys (`{"opts.title": …}`); arrays and empty objects stay values. */
export function flatten(entity: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  const walk = (value: Readonly<Record<string, unknown>>, prefix: string) => {
    for (const [key, child] of Object.entries(value)) {
      const name = prefix + key
      if (isObject(child) && Object.keys(child).length > 0) walk(child, `${name}.`)
      else out[name] = child
    }
  }
  walk(entity, '')
  return out
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}
