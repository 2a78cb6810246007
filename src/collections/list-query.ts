import { type Static, Type } from '@sinclair/typebox'
import { AppError, invalidField } from '../errors.ts'
import { COUNT_PATTERN } from '../http/shared-schemas.ts'
import type { FieldFilter, FieldOrder, JsonValue, ListQuery } from '../store/store.ts'
import { codePathsOf, normalisedValue } from './codes.ts'
import type { CollectionDef } from './collection.ts'
import { type FieldPath, fieldPathProblem, isObject } from './field-paths.ts'

const DEFAULT_LIMIT = 100
const MAX_LIMIT = 1000

const Count = Type.String({ pattern: COUNT_PATTERN })
const Flat = Type.Union([Type.Literal('true'), Type.Literal('false')])

export const ViewQuerystring = Type.Object(
  {
    mask: Type.Optional(Type.String({ description: 'comma-separated fields to return; dotted paths allowed' })),
    flat: Type.Optional(Flat),
  },
  { additionalProperties: false },
)
export type ViewQuerystring = Static<typeof ViewQuerystring>

export const ListQuerystring = Type.Object(
  {
    filter: Type.Optional(Type.String({ description: 'JSON object of field → value; dotted paths allowed' })),
    mask: Type.Optional(Type.String({ description: 'comma-separated fields to return; dotted paths allowed' })),
    order: Type.Optional(Type.String({ description: 'comma-separated fields; a leading - sorts descending' })),
    offset: Type.Optional(Count),
    limit: Type.Optional(Type.String({ pattern: COUNT_PATTERN, description: `default ${DEFAULT_LIMIT}, max ${MAX_LIMIT}` })),
    flat: Type.Optional(Flat),
  },
  { additionalProperties: false },
)
export type ListQuerystring = Static<typeof ListQuerystring> & { since?: string; until?: string; q?: string }

/** Longest `q`, in characters, and most words in it. */
const MAX_SEARCH_CHARS = 200
const MAX_SEARCH_WORDS = 16

const Time = (description: string) => Type.String({ format: 'date-time', description })

/** The list query of a collection: with `since`/`until` when it has a time field. */
export function listQuerystringOf(def: CollectionDef) {
  if (def.timeField === undefined && !def.searchable) return ListQuerystring
  return Type.Object(
    {
      ...ListQuerystring.properties,
      ...(def.timeField !== undefined && {
        since: Type.Optional(Time(`only entries with ${def.timeField} at or after this time (RFC 3339)`)),
        until: Type.Optional(Time(`only entries with ${def.timeField} before this time (RFC 3339)`)),
      }),
      ...(def.searchable && {
        q: Type.Optional(
          Type.String({
            maxLength: MAX_SEARCH_CHARS,
            description:
              'text search, case-insensitive: entries whose webhook body or headers hold a word starting with each word of q (words are letters and digits)',
          }),
        ),
      }),
    },
    { additionalProperties: false },
  )
}

/** How to shape entities on the way out. */
export interface View {
  readonly mask: readonly FieldPath[] | undefined
  readonly flat: boolean
}

export interface ListRequest {
  readonly query: ListQuery
  readonly view: View
}

/** The view without mask or flat: entities as stored. */
export const FULL_VIEW: View = Object.freeze({ mask: undefined, flat: false })

export function parseView(def: CollectionDef, querystring: ViewQuerystring): View {
  if (querystring.mask === undefined && querystring.flat === undefined) return FULL_VIEW
  return { mask: parseMask(def, querystring.mask), flat: querystring.flat === 'true' }
}

export function parseListRequest(def: CollectionDef, querystring: ListQuerystring): ListRequest {
  const limit = querystring.limit === undefined ? DEFAULT_LIMIT : Number(querystring.limit)
  if (limit > MAX_LIMIT) throw invalidField('limit', `must be at most ${MAX_LIMIT}`)
  const order = querystring.order === undefined ? def.defaultOrder : parseOrder(def, querystring.order)
  const filter = parseFilter(def, querystring.filter)
  if (def.timeField !== undefined) {
    for (const [parameter, op] of [
      ['since', 'gte'],
      ['until', 'lt'],
    ] as const) {
      const value = querystring[parameter]
      if (value !== undefined) filter.push({ path: [def.timeField], op, value: new Date(value).toISOString() })
    }
  }
  const search = def.searchable && querystring.q !== undefined ? searchWords(querystring.q) : undefined
  return {
    query: {
      filter,
      ...(search !== undefined && { search }),
      order,
      offset: querystring.offset === undefined ? 0 : Number(querystring.offset),
      limit,
    },
    view: parseView(def, querystring),
  }
}

/** The words of a text search: runs of letters and digits, lower-case. */
function searchWords(q: string): string[] {
  const words = q.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []
  if (words.length === 0) throw invalidField('q', 'must contain a letter or a digit')
  if (words.length > MAX_SEARCH_WORDS) throw invalidField('q', `must have at most ${MAX_SEARCH_WORDS} words`)
  return words
}

function checkedPath(def: CollectionDef, parameter: string, dotted: string): FieldPath {
  const problem = fieldPathProblem(def.entity, dotted)
  if (problem) throw invalidField(parameter, problem)
  if (def.hidden.includes(dotted.split('.')[0] as string)) throw invalidField(parameter, `unknown field '${dotted}'`)
  const secret = def.concealed?.paths.find((path) => dotted === path || dotted.startsWith(`${path}.`))
  if (secret !== undefined) throw invalidField(parameter, `'${secret}' is write-only: it cannot be filtered or sorted on`)
  return dotted.split('.')
}

function parseFilter(def: CollectionDef, text: string | undefined): FieldFilter[] {
  if (text === undefined) return []
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw invalidField('filter', 'must be a JSON object, e.g. {"type":"public"}')
  }
  if (!isObject(parsed)) throw invalidField('filter', 'must be a JSON object, e.g. {"type":"public"}')
  const codes = codeFieldsOf(def)
  return Object.entries(parsed).map(([field, value]) => ({
    path: checkedPath(def, 'filter', field),
    // Codes are stored in NFC: a filter spelled another way still finds them.
    value: (codes.has(field) ? normalisedValue(value) : value) as JsonValue,
  }))
}

const codeFields = new WeakMap<CollectionDef, ReadonlySet<string>>()

/** The dotted paths of a collection's codes (`code`, `opts.roles`, …), worked out once. */
function codeFieldsOf(def: CollectionDef): ReadonlySet<string> {
  let fields = codeFields.get(def)
  if (!fields) {
    fields = new Set(codePathsOf(def.createBody).map((path) => path.join('.')))
    codeFields.set(def, fields)
  }
  return fields
}

function parseMask(def: CollectionDef, text: string | undefined): FieldPath[] | undefined {
  if (text === undefined) return undefined
  const fields = text.split(',').map((field) => field.trim())
  if (fields.some((field) => field === '')) throw invalidField('mask', 'must list field names separated by commas')
  return fields.map((field) => checkedPath(def, 'mask', field))
}

function parseOrder(def: CollectionDef, text: string): FieldOrder[] {
  const fields = text.split(',').map((field) => field.trim())
  if (fields.some((field) => field === '' || field === '-')) {
    throw invalidField('order', 'must list field names separated by commas, each optionally prefixed by -')
  }
  return fields.map((field) => {
    const descending = field.startsWith('-')
    return { path: checkedPath(def, 'order', descending ? field.slice(1) : field), descending }
  })
}

/** The lookup body: exactly one unique key of the collection. */
export function lookupKey(def: CollectionDef, body: Record<string, string>): [string, string] {
  const entries = Object.entries(body)
  const [entry] = entries
  if (entries.length !== 1 || entry === undefined || !def.keys.includes(entry[0])) {
    throw new AppError('bad_request', `lookup needs exactly one of: ${def.keys.join(', ')}`)
  }
  return entry
}
