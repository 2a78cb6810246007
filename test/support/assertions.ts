import assert from 'node:assert/strict'
import type { TSchema } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
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

const compiled = new WeakMap<TSchema, ReturnType<typeof TypeCompiler.Compile>>()

/** Checks `value` against a response schema, so the OpenAPI document tells the truth. */
export function assertMatchesSchema(schema: TSchema, value: unknown): void {
  let check = compiled.get(schema)
  if (!check) {
    check = TypeCompiler.Compile(schema)
    compiled.set(schema, check)
  }
  const first = check.Errors(value).First()
  assert.equal(first, undefined, first && `${first.path}: ${first.message} (value ${JSON.stringify(first.value)})`)
}
