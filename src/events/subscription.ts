import { AppError } from '../errors.ts'
import { type EventPattern, parsePattern } from './event-names.ts'

/** The longest a subscription lives without renewal, seconds (SPEC §8). */
const MAX_EXPIRES_S = 3600
const MAX_PATTERNS = 32
const MAX_OBJECT_FIELDS = 16
const MAX_VALUES = 64
const MAX_ID_CHARS = 128

type Scalar = string | number | boolean | null

/** One field of an `objects` filter: the value at `path` in the event's data is one of `values`. */
interface FieldMatch {
  readonly path: readonly string[]
  readonly values: readonly Scalar[]
}

/** A subscription's `objects` filter over the event's `data` (SPEC §8: optional). */
export interface ObjectFilter {
  readonly fields: readonly FieldMatch[]
  /** The one collection a `modelevents` subscription is narrowed to, if `objects.collection` names one. */
  readonly collection: string | null
  /** Every collection the filter names (for the read permission check); null: any. */
  readonly collections: readonly string[] | null
}

/** A `subscribe` frame, checked. `expires: 0` removes the subscription. */
export interface SubscribeRequest {
  readonly id: string | number
  readonly patterns: readonly EventPattern[]
  readonly objects: ObjectFilter | null
  /** Seconds, 0–3600. */
  readonly expires: number
}

/** Checks a `subscribe` payload; bad input is a 1400 naming the field. */
export function parseSubscribe(payload: Record<string, unknown>, collections: ReadonlySet<string>): SubscribeRequest {
  const id = payload.id
  const idOk =
    (typeof id === 'string' && id !== '' && id.length <= MAX_ID_CHARS) || (typeof id === 'number' && Number.isSafeInteger(id))
  if (!idOk) throw new AppError('bad_request', `subscribe needs an id: a string of 1-${MAX_ID_CHARS} characters or an integer`)
  const expires = payload.expires ?? MAX_EXPIRES_S
  if (typeof expires !== 'number' || !Number.isInteger(expires) || expires < 0 || expires > MAX_EXPIRES_S) {
    throw new AppError('bad_request', `expires must be a whole number of seconds from 0 to ${MAX_EXPIRES_S} (0 removes)`)
  }
  if (expires === 0) return { id, patterns: [], objects: null, expires }

  const events = payload.events
  if (!Array.isArray(events) || events.length === 0 || events.length > MAX_PATTERNS) {
    throw new AppError('bad_request', `events must be a list of 1-${MAX_PATTERNS} names such as "modelevents.data_changed"`)
  }
  const patterns: EventPattern[] = []
  for (const entry of events) {
    const pattern = typeof entry === 'string' ? parsePattern(entry) : 'events must be strings such as "projectevents.*"'
    if (typeof pattern === 'string') throw new AppError('bad_request', pattern)
    patterns.push(pattern)
  }
  const objects = payload.objects === undefined || payload.objects === null ? null : parseObjects(payload.objects, collections)
  return { id, patterns, objects, expires }
}

function parseObjects(raw: unknown, known: ReadonlySet<string>): ObjectFilter {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new AppError('bad_request', 'objects must be an object of field → value, such as {"collection": "integration_points"}')
  }
  const entries = Object.entries(raw)
  if (entries.length > MAX_OBJECT_FIELDS)
    throw new AppError('bad_request', `objects may name at most ${MAX_OBJECT_FIELDS} fields`)
  const fields: FieldMatch[] = []
  let collections: string[] | null = null
  for (const [key, value] of entries) {
    const path = key.split('.')
    if (key.length > 128 || path.some((part) => part === '')) {
      throw new AppError('bad_request', `objects: '${key.slice(0, 64)}' is not a field path`)
    }
    const values = Array.isArray(value) ? value : [value]
    if (values.length === 0 || values.length > MAX_VALUES || !values.every(isScalar)) {
      throw new AppError(
        'bad_request',
        `objects.${key.slice(0, 64)} must be a string, number, boolean or null, or a list of 1-${MAX_VALUES} of them`,
      )
    }
    if (key === 'collection') {
      for (const name of values) {
        if (typeof name !== 'string' || !known.has(name)) {
          throw new AppError(
            'bad_request',
            `objects.collection: '${String(name).slice(0, 64)}' is not a collection (${[...known].join(', ')})`,
          )
        }
      }
      collections = values as string[]
    }
    fields.push({ path, values })
  }
  const collection = collections?.length === 1 ? (collections[0] as string) : null
  return { fields, collection, collections }
}

function isScalar(value: unknown): value is Scalar {
  return (
    value === null ||
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isFinite(value))
  )
}

/** Whether an event's `data` passes the filter: every field holds one of its values. */
export function objectsMatch(filter: ObjectFilter, data: unknown): boolean {
  for (const field of filter.fields) {
    let value = data
    for (const part of field.path) {
      value =
        value !== null && typeof value === 'object' && !Array.isArray(value)
          ? (value as Record<string, unknown>)[part]
          : undefined
    }
    if (value === undefined || !field.values.includes(value as Scalar)) return false
  }
  return true
}
