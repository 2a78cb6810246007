import { isObject } from '../collections/field-paths.ts'

/**
 * Dotted paths of the leaves that differ between `before` and `after` (a key present on one side
 * only counts; arrays and scalars are leaves, compared as JSON), in the order of `after`, then of
 * the keys `after` lost. `skip` lists paths to leave out (server-set times, hidden fields).
 */
export function changedFields(before: unknown, after: unknown, skip: ReadonlySet<string> = new Set()): string[] {
  const out: string[] = []
  walk(before, after, '', skip, out)
  return out
}

function walk(before: unknown, after: unknown, prefix: string, skip: ReadonlySet<string>, out: string[]): void {
  if (isObject(before) && isObject(after)) {
    for (const key of Object.keys(after)) visit(before, after, key, prefix, skip, out)
    for (const key of Object.keys(before)) if (!Object.hasOwn(after, key)) visit(before, after, key, prefix, skip, out)
    return
  }
  if (isObject(after) && before === undefined) {
    for (const key of Object.keys(after)) visit({}, after, key, prefix, skip, out)
    return
  }
  if (JSON.stringify(before) !== JSON.stringify(after) && prefix !== '') out.push(prefix)
}

function visit(
  before: Record<string, unknown>,
  after: Record<string, unknown>,
  key: string,
  prefix: string,
  skip: ReadonlySet<string>,
  out: string[],
): void {
  const path = prefix === '' ? key : `${prefix}.${key}`
  if (skip.has(path)) return
  walk(Object.hasOwn(before, key) ? before[key] : undefined, Object.hasOwn(after, key) ? after[key] : undefined, path, skip, out)
}

/** One changed field with its values, as an audit entry shows it. */
export interface FieldChange {
  readonly field: string
  /** Absent: the field was not set (before) or was removed (after), or its values are withheld. */
  readonly before?: unknown
  readonly after?: unknown
  /** Why the values are not shown: a secret, or too long to keep in the log. */
  readonly withheld?: 'secret' | 'long'
}

/** Values longer than this (as JSON) are withheld from the log: a script's source, a large map. */
const MAX_VALUE_CHARS = 256

/** Names that hold credentials wherever they sit (a channel's `opts.verify.secrets`, …). */
const SECRET_NAME = /secret|token|password|passwd|key_hash|signature|credential/i

/**
 * The values of `fields` (from changedFields) before and after, for an audit entry: a field that
 * `secret` names (or that lies under one), or whose name says it holds a credential, shows no
 * values; nor does a value longer than MAX_VALUE_CHARS as JSON.
 */
export function changedValues(
  before: unknown,
  after: unknown,
  fields: readonly string[],
  secret: readonly string[],
): FieldChange[] {
  return fields.map((field) => {
    const path = field.split('.')
    const was = valueAt(before, path)
    const is = valueAt(after, path)
    // A whole object set or removed at once (`opts.verify: null`) is one leaf: it is a secret
    // when a secret lies anywhere inside it.
    const isSecret =
      secret.some((name) => field === name || field.startsWith(`${name}.`) || name.startsWith(`${field}.`)) ||
      path.some((part) => SECRET_NAME.test(part)) ||
      holdsSecretName(was) ||
      holdsSecretName(is)
    if (isSecret) return { field, withheld: 'secret' }
    if ((JSON.stringify(was)?.length ?? 0) > MAX_VALUE_CHARS || (JSON.stringify(is)?.length ?? 0) > MAX_VALUE_CHARS) {
      return { field, withheld: 'long' }
    }
    return { field, ...(was !== undefined && { before: was }), ...(is !== undefined && { after: is }) }
  })
}

/** Whether `value` has, at any depth, a key whose name says it holds a credential. */
function holdsSecretName(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(holdsSecretName)
  if (!isObject(value)) return false
  return Object.entries(value).some(([key, inner]) => SECRET_NAME.test(key) || holdsSecretName(inner))
}

function valueAt(value: unknown, path: readonly string[]): unknown {
  let at = value
  for (const part of path) {
    if (!isObject(at) || !Object.hasOwn(at, part)) return undefined
    at = at[part]
  }
  return at
}
