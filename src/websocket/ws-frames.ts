import { jsonTooDeep } from '../http/json-depth.ts'

/** A frame of the Token API (SPEC §6.2): `[name, payload]`, the payload an object. */
export interface Frame {
  readonly name: string
  readonly payload: Record<string, unknown>
}

/** The frame in `text`, or why it is not one. */
export function parseFrame(text: string): Frame | string {
  if (jsonTooDeep(text)) return 'the frame nests arrays and objects too deep'
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    return `the frame is not valid JSON${error instanceof SyntaxError ? `: ${error.message}` : ''}`
  }
  if (!Array.isArray(value) || value.length !== 2 || typeof value[0] !== 'string') {
    return 'a frame is a JSON array [name, payload]'
  }
  const [name, payload] = value as [string, unknown]
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    return `the payload of '${name.slice(0, 64)}' must be an object`
  }
  return { name, payload: payload as Record<string, unknown> }
}

/**
 * A request's `qid` as the client sent it (string or number); undefined when there is none
 * (absent or null); `null` when there is one of another type (an object, an array, a boolean),
 * which the frame cannot be answered by.
 */
export function qidOf(payload: Record<string, unknown>): string | number | undefined | null {
  const qid = payload.qid
  if (typeof qid === 'string' || (typeof qid === 'number' && Number.isFinite(qid))) return qid
  return qid === undefined || qid === null ? undefined : null
}
