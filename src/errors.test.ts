import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { it } from 'node:test'
import { AppError, ERRORS } from './errors.ts'

it('documents every error of the catalogue in docs/errors.md, with its status and code', () => {
  const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8')
  const rows = new Map(
    [...doc.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \| (\d{4}) \|/gm)].map((m) => [m[1], [Number(m[2]), Number(m[3])]] as const),
  )
  assert.deepEqual([...rows.keys()].sort(), Object.keys(ERRORS).sort())
  for (const [name, status] of Object.entries(ERRORS)) assert.deepEqual(rows.get(name), [status, 1000 + status], name)
})

it('turns an AppError into the wire shape, with details only when given', () => {
  assert.deepEqual(new AppError('not_found', 'gone').toBody(), { error_code: 1404, error_message: 'gone' })
  const withDetails = new AppError('bad_request', 'x must be y', [{ field: 'x', message: 'must be y' }]).toBody()
  assert.deepEqual(withDetails, {
    error_code: 1400,
    error_message: 'x must be y',
    error_details: [{ field: 'x', message: 'must be y' }],
  })
})
