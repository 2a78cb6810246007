import assert from 'node:assert/strict'
import { it } from 'node:test'
import { redactUrl } from './logger.ts'

it('hides channel tokens and link secrets in logged URLs', () => {
  assert.equal(redactUrl('/exec/abc123/orders?x=1'), '/exec/~/orders?x=1')
  assert.equal(redactUrl('/ws/token/v1/abc123'), '/ws/token/v1/~')
  assert.equal(redactUrl('/temp/Zm9vYmFy?x=1'), '/temp/~?x=1')
  assert.equal(redactUrl('/rest/v1/service/integration_points'), '/rest/v1/service/integration_points')
})
