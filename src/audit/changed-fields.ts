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
