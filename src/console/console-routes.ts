import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { extname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

/** Where `vite build` puts the console (bin/runtime.sh builds it with the dependencies). */
const CONSOLE_DIST = fileURLToPath(new URL('../../ui/dist/', import.meta.url))

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json; charset=utf-8',
}

/**
 * Sent with every answer under /ui. The page may talk to this origin only (REST, /exec,
 * websockets) and runs only the script files of its build: no inline script, no eval, no
 * plugins. CodeMirror sets its styles inline, hence 'unsafe-inline' for styles and nothing else.
 * No other site may frame it (clickjacking), and no URL of it leaves as a referrer.
 */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; object-src 'none'; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
}

interface Asset {
  readonly body: Buffer
  readonly type: string
  readonly etag: string
  /** Hashed file names never change: cache them for good. */
  readonly immutable: boolean
}

/**
 * `/ui` serves the admin console, a single-page app that uses only the public APIs. The built
 * files are read once at start (they are small) and served from memory; every other path
 * under /ui is the app's own route and gets index.html.
 */
export function consoleRoutes(app: FastifyInstance, dist: string = CONSOLE_DIST): void {
  const assets = load(dist)
  const index = assets.get('index.html')

  const send = (reply: FastifyReply, asset: Asset, request: FastifyRequest) => {
    reply.header('etag', asset.etag)
    reply.header('cache-control', asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
    if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send()
    return reply.type(asset.type).send(asset.body)
  }

  app.get('/', { schema: { hide: true } }, (_request, reply) => reply.redirect('/ui/'))
  app.get('/ui', { schema: { hide: true } }, (_request, reply) => reply.redirect('/ui/'))
  app.get('/ui/*', { schema: { hide: true } }, (request, reply) => {
    reply.headers(SECURITY_HEADERS)
    if (!index) {
      return reply
        .code(503)
        .type('text/plain; charset=utf-8')
        .send(
          'The console is not built. Run bin/switchboard (it builds ui/ with the dependencies) or: npx vite build --config ui/vite.config.ts\n',
        )
    }
    const path = (request.params as { '*': string })['*']
    const asset = assets.get(path)
    if (asset) return send(reply, asset, request)
    // A missing file with an extension is a real 404 (a stale asset link), not a page of the app.
    if (extname(path) !== '') return reply.code(404).type('text/plain; charset=utf-8').send('Not found\n')
    return send(reply, index, request)
  })
}

function load(dist: string): Map<string, Asset> {
  const assets = new Map<string, Asset>()
  if (!existsSync(dist)) return assets
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const file = join(dir, name)
      if (statSync(file).isDirectory()) {
        walk(file)
        continue
      }
      const body = readFileSync(file)
      const path = relative(dist, file).split('\\').join('/')
      assets.set(path, {
        body,
        type: TYPES[extname(name)] ?? 'application/octet-stream',
        etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
        immutable: path.startsWith('assets/'),
      })
    }
  }
  walk(dist)
  return assets
}
