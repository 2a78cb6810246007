import assert from 'node:assert/strict'
import type { TSchema } from '@sinclair/typebox'
import { Ajv, type ValidateFunction } from 'ajv'
import type { Reply } from './server.ts'

/**
 * The error shape of SPEC §2: JSON, `error_code` = 1000 + status, a message in words, and
 * `error_details` only when there are field errors. `message` must match the message.
 */
export function assertError(reply: Reply, status: number, message?: RegExp, field?: string): void {
  assert.equal(reply.status, status, `expected ${status}, got ${reply.status}: ${reply.text.slice(0, 300)}`)
  assert.match(reply.headers.get('content-type') ?? '', /^application\/json/)
  const body = reply.body as Record<string, unknown>
  assert.equal(body.error_code, 1000 + status)
  assert.equal(typeof body.error_message, 'string')
  assert.ok((body.error_message as string).length > 0)
  for (const key of Object.keys(body))
    assert.ok(['error_code', 'error_message', 'error_details'].includes(key), `unexpected key ${key}`)
  if (message) assert.match(body.error_message as string, message)
  if (field !== undefined) {
    const details = body.error_details as { field: string; message: string }[] | undefined
    assert.ok(
      details?.some((detail) => detail.field === field),
      `no error_details entry for ${field}: ${reply.text}`,
    )
  }
}

/**
 * The validator the server itself uses (fastify's), with its Unicode patterns: TypeBox's own
 * compiler makes patterns without the `u` flag, so it cannot check codes (`\p{L}`).
 */
const ajv = new Ajv({ strict: false, allErrors: false })
const compiled = new WeakMap<TSchema, ValidateFunction>()

/** Checks `value` against a response schema, so the OpenAPI document tells the truth. */
export function assertMatchesSchema(schema: TSchema, value: unknown): void {
  let check = compiled.get(schema)
  if (!check) {
    check = ajv.compile(schema)
    compiled.set(schema, check)
  }
  const first = check(value) ? undefined : check.errors?.[0]
  assert.equal(
    first,
    undefined,
    first && `${first.instancePath}: ${first.message} (value ${JSON.stringify(value).slice(0, 500)})`,
  )
}
