import type { TSchema } from '@sinclair/typebox'
import { CODE_PATTERN, OPTIONAL_CODE_PATTERN } from '../http/shared-schemas.ts'
import type { FieldPath } from './field-paths.ts'
import { isObject } from './field-paths.ts'

/**
 * Codes (SPEC §3: `code`, `type`, the script and role references) hold Unicode letters and digits,
 * so one name can arrive spelled two ways: `é` as one code point or as `e` and a combining accent
 * (what macOS file names and some keyboards send). Every code is stored, looked up and compared in
 * NFC, so both spellings name the same entity.
 */
export function normaliseCode(code: string): string {
  // ASCII is NFC already: skip the ICU call for the common case.
  return ASCII.test(code) ? code : code.normalize('NFC')
}

const ASCII = /^[\x20-\x7e]*$/

/** The paths of a create body whose values are codes, or lists of codes (found by their pattern). */
export function codePathsOf(schema: TSchema): FieldPath[] {
  const paths: FieldPath[] = []
  const walk = (node: TSchema, path: string[]) => {
    for (const option of Array.isArray(node.anyOf) ? (node.anyOf as TSchema[]) : [node]) {
      if (option.type === 'string' && (option.pattern === CODE_PATTERN || option.pattern === OPTIONAL_CODE_PATTERN)) {
        if (!paths.some((known) => known.join('.') === path.join('.'))) paths.push(path)
      } else if (option.type === 'array' && option.items) {
        walk(option.items as TSchema, path)
      } else if (option.type === 'object' && isObject(option.properties)) {
        for (const [name, child] of Object.entries(option.properties as Record<string, TSchema>)) walk(child, [...path, name])
      }
    }
  }
  walk(schema, [])
  return paths
}

/** `body` with the codes at `paths` in NFC (strings, or the strings of a list); the rest as it was. */
export function withNormalisedCodes(body: Record<string, unknown>, paths: readonly FieldPath[]): Record<string, unknown> {
  let out = body
  for (const path of paths) out = replaced(out, path, 0)
  return out
}

function replaced(value: Record<string, unknown>, path: FieldPath, depth: number): Record<string, unknown> {
  const key = path[depth] as string
  if (!Object.hasOwn(value, key)) return value
  const current = value[key]
  let next: unknown = current
  if (depth < path.length - 1) {
    if (isObject(current)) next = replaced(current, path, depth + 1)
  } else {
    next = normalisedValue(current)
  }
  return next === current ? value : { ...value, [key]: next }
}

/** A code, or a list of codes, in NFC; anything else unchanged. */
export function normalisedValue(value: unknown): unknown {
  if (typeof value === 'string') return normaliseCode(value)
  if (Array.isArray(value) && value.some((item) => typeof item === 'string' && normaliseCode(item) !== item)) {
    return value.map((item) => (typeof item === 'string' ? normaliseCode(item) : item))
  }
  return value
}
