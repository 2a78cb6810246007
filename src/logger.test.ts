import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createLogger, redactUrl } from './logger.ts'

function capture(level: Parameters<typeof createLogger>[0]) {
  const lines: Record<string, unknown>[] = []
  const logger = createLogger(level, { write: (line: string) => void lines.push(JSON.parse(line)) })
  return { logger, lines }
}

describe('logger', () => {
  it('hides channel tokens and temporary links in logged URLs', () => {
    assert.equal(redactUrl('/exec/abc123/orders?x=1'), '/exec/~/orders?x=1')
    assert.equal(redactUrl('/ws/token/v1/abc123'), '/ws/token/v1/~')
    assert.equal(redactUrl('/rest/v1/service/integration_tokens/abc123?mask=id'), '/rest/v1/service/integration_tokens/~?mask=id')
    assert.equal(redactUrl('/temp/Zm9vYmFy'), '/temp/~')
    assert.equal(redactUrl('/rest/v1/service/integration_points'), '/rest/v1/service/integration_points')
  })

  it('hides token-shaped segments on every route and in every spelling, refused URLs included', () => {
    const token = '0123456789abcdef0123456789abcdef'
    const id = '3f2b8c1e-7d4a-4c6b-9e1f-2a3b4c5d6e7f'
    for (const [url, shown] of [
      [`/exec//${token}`, '/exec//~'],
      [`/EXEC/${token}`, '/EXEC/~'],
      [`/Exec/abcdefghij/x`, '/Exec/~/x'],
      [`/exec%2f${token}`, '/~'],
      [`/exec%2F${token}/orders?x=1`, '/~/orders?x=1'],
      [`/ws//token/v1//${token}`, '/ws//token/v1//~'],
      [`/WS/TOKEN/V1/short`, '/WS/TOKEN/V1/~'],
      [`/nowhere/${token}`, '/nowhere/~'],
      [`/nowhere/${token}.json`, '/nowhere/~'],
      [`/files/%30123456789abcdef0123456789abcdef`, '/files/~'],
      ['/rest/v1/iam/api_keys/sbk_AbCdEfGh1jKlMnOpQrStUvWxYz0123456789abcdefg', '/rest/v1/iam/api_keys/~'],
      [`/rest/v1/service/integration_points/${id}?mask=code`, `/rest/v1/service/integration_points/${id}?mask=code`],
      ['/rest/v1/service/integration_tokens', '/rest/v1/service/integration_tokens'],
      ['/rest/v1/service/executions/x', '/rest/v1/service/executions/x'],
      [`/metrics?token=${token}`, `/metrics?token=${token}`],
      ['/exec', '/exec'],
      ['/', '/'],
    ] as const) {
      assert.equal(redactUrl(url), shown, url)
    }
  })

  it('writes JSON lines with constant messages and replaces secret fields where they are carried', () => {
    const { logger, lines } = capture('info')
    logger.info(
      {
        headers: { authorization: 'Bearer root-secret', 'content-type': 'application/json' },
        req: { method: 'GET', url: '/exec/token-secret/x', headers: { cookie: 'session=cookie-secret' } },
        channel: { code: 'c', token_local: 'local-secret', token_remote: 'remote-secret', token_remote2: 'remote-secret-2' },
        entity: { id: 'kept-id', key: 'key-secret' },
        doc: { key_hash: 'hash-secret' },
        key: 'top-secret',
      },
      'something happened',
    )
    assert.equal(lines.length, 1)
    const [line] = lines as [Record<string, unknown>]
    assert.equal(line.msg, 'something happened')
    assert.equal(line.level, 30)
    assert.deepEqual(line.headers, { authorization: '[redacted]', 'content-type': 'application/json' })
    assert.deepEqual(line.req, { method: 'GET', url: '/exec/~/x' }, 'a request is logged without its headers')
    assert.deepEqual(line.channel, {
      code: 'c',
      token_local: '[redacted]',
      token_remote: '[redacted]',
      token_remote2: '[redacted]',
    })
    assert.deepEqual(line.entity, { id: 'kept-id', key: '[redacted]' })
    assert.deepEqual(line.doc, { key_hash: '[redacted]' })
    assert.equal(line.key, '[redacted]')
  })

  it('writes only lines at or above its level', () => {
    const { logger, lines } = capture('warn')
    logger.info({ a: 1 }, 'not written')
    logger.debug({ a: 2 }, 'not written either')
    logger.warn({ a: 3 }, 'written')
    assert.deepEqual(
      lines.map((line) => [line.msg, line.a]),
      [['written', 3]],
    )
  })
})
