import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import Fastify from 'fastify'
import { consoleRoutes } from './console-routes.ts'

async function serve(t: TestContext, files: Record<string, string> | null) {
  const dist = mkdtempSync(join(tmpdir(), 'switchboard-console-'))
  t.after(() => rmSync(dist, { recursive: true, force: true }))
  const root = files === null ? join(dist, 'missing') : dist
  for (const [path, body] of Object.entries(files ?? {})) {
    mkdirSync(join(dist, path, '..'), { recursive: true })
    writeFileSync(join(dist, path), body)
  }
  const app = Fastify()
  consoleRoutes(app, root)
  t.after(() => app.close())
  return app
}

/** What every answer under /ui carries (SECURITY_HEADERS in console-routes.ts). */
function assertSecurityHeaders(headers: Record<string, unknown>, what: string): void {
  assert.equal(
    headers['content-security-policy'],
    "default-src 'self'; script-src 'self'; object-src 'none'; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    what,
  )
  assert.equal(headers['x-frame-options'], 'DENY', what)
  assert.equal(headers['referrer-policy'], 'no-referrer', what)
  assert.equal(headers['x-content-type-options'], 'nosniff', what)
}

describe('console routes', () => {
  it('serves the app: index.html for its pages, assets with long caching, 304 on a matching ETag', async (t) => {
    const app = await serve(t, { 'index.html': '<!doctype html><p>app</p>', 'assets/app-1a2b.js': 'console.log(1)' })
    assert.equal((await app.inject('/')).headers.location, '/ui/')
    assert.equal((await app.inject('/ui')).headers.location, '/ui/')
    for (const page of ['/ui/', '/ui/channels', '/ui/executions/7?status=error']) {
      const answer = await app.inject(page)
      assert.equal(answer.statusCode, 200, page)
      assert.equal(answer.body, '<!doctype html><p>app</p>')
      assert.equal(answer.headers['content-type'], 'text/html; charset=utf-8')
      assert.equal(answer.headers['cache-control'], 'no-cache')
      assertSecurityHeaders(answer.headers, page)
    }
    const asset = await app.inject('/ui/assets/app-1a2b.js')
    assert.equal(asset.body, 'console.log(1)')
    assert.equal(asset.headers['content-type'], 'text/javascript; charset=utf-8')
    assert.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable')
    const again = await app.inject({ url: '/ui/assets/app-1a2b.js', headers: { 'if-none-match': String(asset.headers.etag) } })
    assert.equal(again.statusCode, 304)
    assert.equal(again.body, '')
    assertSecurityHeaders(asset.headers, 'asset')
    assertSecurityHeaders(again.headers, '304')
  })

  it('answers 404 for a missing file and never reads outside the build', async (t) => {
    const app = await serve(t, { 'index.html': 'app' })
    for (const path of ['/ui/assets/gone.js', '/ui/../package.json', '/ui/%2e%2e/%2e%2e/etc/passwd.txt']) {
      const answer = await app.inject(path)
      assert.notEqual(answer.body, '', path)
      assert.ok(answer.statusCode === 404 || answer.body === 'app', `${path}: ${answer.statusCode} ${answer.body.slice(0, 80)}`)
      assert.doesNotMatch(answer.body, /"name"|root:/)
      if (path === '/ui/assets/gone.js') assertSecurityHeaders(answer.headers, path)
    }
  })

  it('says how to build the console when it is not built', async (t) => {
    const app = await serve(t, null)
    const answer = await app.inject('/ui/')
    assert.equal(answer.statusCode, 503)
    assert.match(answer.body, /The console is not built/)
    assertSecurityHeaders(answer.headers, '503')
  })
})
