import { type TSchema, Type } from '@sinclair/typebox'

/** Schemas that several capabilities share, and the plain-words messages for their patterns. */

const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
/** Unicode letters (with their combining marks) and decimal digits, `_`, `.`, `-`; stored in NFC (collections/codes.ts). */
export const CODE_PATTERN = '^[\\p{L}\\p{M}\\p{Nd}_.-]+$'
export const OPTIONAL_CODE_PATTERN = '^[\\p{L}\\p{M}\\p{Nd}_.-]*$'
export const COUNT_PATTERN = '^[0-9]{1,9}$'

export const Uuid = Type.String({ pattern: UUID_PATTERN, description: 'UUID' })

/** A code: 1–64 letters (any script), digits, `_`, `.` or `-`, unique where the collection says. */
export const Code = Type.String({ minLength: 1, maxLength: 64, pattern: CODE_PATTERN })

/** Empty, or the code of a service script in the domain. */
export const ScriptRef = Type.String({ maxLength: 64, pattern: OPTIONAL_CODE_PATTERN })

export const Timestamp = Type.String({ description: 'RFC 3339 UTC time', examples: ['2026-11-28T09:30:00.000Z'] })

/** `ext`: `ct`/`ext.lwt` set by the server, any other keys kept for the client. */
export const Ext = Type.Object({ ct: Timestamp, lwt: Timestamp }, { additionalProperties: true })
export const ExtInput = Type.Object(
  {},
  { additionalProperties: true, description: 'client keys; ct and lwt are set by the server' },
)

export const ErrorBody = Type.Object(
  {
    error_code: Type.Integer({ description: '1000 + HTTP status' }),
    error_message: Type.String(),
    error_details: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
  },
  { $id: 'ErrorBody', title: 'Error' },
)

export const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false })

export const Link = Type.Object({ self: Type.Object({ href: Type.String() }) })

export function errorResponses(...statuses: number[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = {}
  for (const status of statuses) out[status] = Type.Ref('ErrorBody')
  return out
}

/** Messages for pattern failures, instead of the regular expression itself. */
export const PATTERN_MESSAGES: Readonly<Record<string, string>> = {
  [UUID_PATTERN]: 'must be a UUID',
  [CODE_PATTERN]: 'may contain only letters, digits and _ . -',
  [OPTIONAL_CODE_PATTERN]: 'may contain only letters, digits and _ . -',
  [COUNT_PATTERN]: 'must be a whole number',
}
