import assert from 'node:assert/strict'
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:https'
import { createServer, connect as tcpConnect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { CHANNELS, json, SCRIPTS, startServer } from './support/server.ts'
import { TestSocket } from './support/ws-client.ts'

/**
 * The reverse-proxy configurations of docs/operations.md (deploy/Caddyfile, deploy/nginx.conf),
 * run with Debian's caddy and nginx in front of a server: TLS, websocket upgrades, a webhook, a
 * large upload. The files are used as they are but for the host name, the ports and the
 * certificate's place, each replaced where the file names it (and checked to be there).
 * Debian's packages are installed when missing, as bin/test installs what it needs; a test is
 * skipped, with the reason, only when its package cannot be installed.
 */

const ROOT = new URL('..', import.meta.url).pathname

/** `program` on PATH, installing Debian's `pkg` when it is missing; or why it is not there. */
function ensureProgram(program: string, pkg: string): { path: string } | { missing: string } {
  const which = () =>
    spawnSync('bash', ['-c', `command -v ${program} || ls /usr/sbin/${program} 2>/dev/null`], { encoding: 'utf8' })
  let found = which().stdout.trim().split('\n')[0]
  if (!found) {
    const root = process.getuid?.() === 0 ? [] : ['sudo', '-n']
    const install = spawnSync(
      root[0] ?? 'apt-get',
      [...root.slice(1), ...(root.length > 0 ? ['apt-get'] : []), 'install', '-y', '-qq', '--no-install-recommends', pkg],
      { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } },
    )
    if (install.status !== 0) {
      // Package lists that are missing or stale: read them, then try once more.
      spawnSync(root[0] ?? 'apt-get', [...root.slice(1), ...(root.length > 0 ? ['apt-get'] : []), 'update', '-qq'])
      spawnSync(
        root[0] ?? 'apt-get',
        [...root.slice(1), ...(root.length > 0 ? ['apt-get'] : []), 'install', '-y', '-qq', '--no-install-recommends', pkg],
        {
          env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
        },
      )
    }
    found = which().stdout.trim().split('\n')[0]
    if (!found)
      return {
        missing: `Debian's ${pkg} could not be installed: ${(install.stderr || install.error?.message || '').trim().slice(0, 300)}`,
      }
  }
  return { path: found }
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** Resolves once something accepts connections on the port. */
async function listening(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const end = performance.now() + 20_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the proxy exited: ${output()}`)
    const open = await new Promise<boolean>((resolve) => {
      const socket = tcpConnect(port, '127.0.0.1', () => {
        socket.end()
        resolve(true)
      })
      socket.on('error', () => resolve(false))
    })
    if (open) return
    if (performance.now() > end) throw new Error(`nothing listens on ${port}: ${output()}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

function startProcess(t: TestContext, command: string, args: readonly string[], env: Record<string, string> = {}) {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk) => {
    output += chunk
  })
  child.stderr.on('data', (chunk) => {
    output += chunk
  })
  const exited = new Promise((resolve) => child.on('exit', resolve))
  t.after(async () => {
    if (child.exitCode !== null) return
    // Caddy's graceful stop waits for open connections without a bound of its own.
    child.kill('SIGTERM')
    const killer = setTimeout(() => child.kill('SIGKILL'), 3000)
    await exited
    clearTimeout(killer)
  })
  return { child, output: () => output }
}

/** `text` with each of `replacements` made, every one of which must be there to replace. */
function substitute(text: string, replacements: readonly [string, string][]): string {
  let out = text
  for (const [from, to] of replacements) {
    assert.ok(out.includes(from), `the configuration names ${from}`)
    out = out.split(from).join(to)
  }
  return out
}

interface Answer {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: Buffer
}

function https(
  url: string,
  ca: Buffer,
  options: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers, ca, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
    })
    req.on('error', reject)
    req.end(options.body)
  })
}

/** What one server behind the proxy at `base` must do: answer, run a webhook, take a large upload, hold a websocket. */
async function checkThroughProxy(base: string, ca: Buffer, server: Awaited<ReturnType<typeof startServer>>): Promise<void> {
  await server.root.post(SCRIPTS, {
    code: 'seen',
    source: "return { body: startparam(4), proto: startparam(5)['x-forwarded-proto'] ?? null, ip: startparam(6) }",
  })
  await server.root.post(SCRIPTS, { code: 'echo', source: 'return { data: startparam(2) }' })
  const channel = json(
    await server.root.post(CHANNELS, {
      code: 'proxied',
      type: 'public',
      recv_svcscriptcode: 'seen',
      recv_svcscriptcode_ws: 'echo',
      opts: { issync: true, allow_files_api: true },
    }),
  )
  const token = String(channel.token_local)

  const health = await https(`${base}/healthz`, ca)
  assert.deepEqual([health.status, JSON.parse(String(health.body))], [200, { status: 'ok' }])

  const hook = await https(`${base}/exec/orders`, ca, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: '{"order":7}',
  })
  assert.equal(hook.status, 200, String(hook.body))
  assert.deepEqual(JSON.parse(String(hook.body)), { body: { order: 7 }, proto: 'https', ip: '127.0.0.1' })
  assert.match(String(hook.headers['switchboard-execution-id']), /^[0-9a-f-]{36}$/)

  // Larger than nginx's default limit (1 MiB) and streamed both ways.
  const bytes = randomBytes(3 << 20)
  const upload = await https(`${base}/files/large.bin`, ca, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
    body: bytes,
  })
  assert.equal(upload.status, 201, String(upload.body))
  assert.equal(JSON.parse(String(upload.body)).size, bytes.length)
  const download = await https(`${base}/files/large.bin`, ca, { headers: { authorization: `Bearer ${token}` } })
  assert.equal(createHash('sha256').update(download.body).digest('hex'), createHash('sha256').update(bytes).digest('hex'))

  // The websocket upgrade passes the proxy, both ways of giving the token.
  const wsBase = base.replace(/^https:/, 'wss:')
  const upgrades: [string, Record<string, string>][] = [
    [`${wsBase}/ws/token/v1/${token}`, {}],
    [`${wsBase}/ws/token/v1`, { authorization: `Bearer ${token}` }],
  ]
  for (const [url, headers] of upgrades) {
    const socket = new TestSocket(url, headers, { ca })
    await socket.opened()
    socket.send(['connection_info', { qid: 'info' }])
    assert.equal((await socket.answer('connection_info_result', 'info'))[1].integration_point_id, channel.id)
    socket.send(['message', { qid: 2, data: { hi: 'through the proxy' } }])
    const [, answer] = await socket.answer('message_result', 2)
    assert.deepEqual(answer, {
      qid: 2,
      success: true,
      data: { data: { hi: 'through the proxy' } },
    })
    socket.socket.close(1000)
    assert.equal((await socket.closed).code, 1000)
  }
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-proxy-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

describe('TLS behind a reverse proxy (docs/operations.md)', () => {
  it('deploy/Caddyfile: HTTPS, websockets, webhooks and a large upload through Caddy', async (t) => {
    const caddy = ensureProgram('caddy', 'caddy')
    if ('missing' in caddy) return t.skip(caddy.missing)
    const server = await startServer(t, { config: { trustProxy: ['127.0.0.1'] } })
    const dir = tempDir(t)
    const [https_port, http_port] = [await freePort(), await freePort()]
    const upstream = new URL(server.url).host
    // The test's own settings, as Caddy's global options: its internal CA instead of Let's
    // Encrypt (and never in the system's trust store), its state in the temporary directory.
    const global = `{
	admin off
	local_certs
	skip_install_trust
	storage file_system ${dir}/data
	http_port ${http_port}
	https_port ${https_port}
}
`
    const site = substitute(readFileSync(join(ROOT, 'deploy/Caddyfile'), 'utf8'), [
      ['switchboard.example.com', 'localhost'],
      ['127.0.0.1:8080', upstream],
    ])
    writeFileSync(join(dir, 'Caddyfile'), global + site)
    const proxy = startProcess(t, caddy.path, ['run', '--config', join(dir, 'Caddyfile'), '--adapter', 'caddyfile'], {
      HOME: dir,
      XDG_DATA_HOME: join(dir, 'xdg-data'),
      XDG_CONFIG_HOME: join(dir, 'xdg-config'),
    })
    await listening(https_port, proxy.child, proxy.output)
    const rootCertificate = join(dir, 'data/pki/authorities/local/root.crt')
    const end = performance.now() + 10_000
    while (!existsSync(rootCertificate) && performance.now() < end) await new Promise((resolve) => setTimeout(resolve, 100))
    const ca = readFileSync(rootCertificate)
    await checkThroughProxy(`https://localhost:${https_port}`, ca, server)
  })

  it('deploy/nginx.conf: HTTPS, a redirect from HTTP, websockets, webhooks and a large upload through nginx', async (t) => {
    const nginx = ensureProgram('nginx', 'nginx')
    if ('missing' in nginx) return t.skip(nginx.missing)
    const openssl = ensureProgram('openssl', 'openssl')
    if ('missing' in openssl) return t.skip(openssl.missing)
    const server = await startServer(t, { config: { trustProxy: ['127.0.0.1'] } })
    const dir = tempDir(t)
    const [httpsPort, httpPort] = [await freePort(), await freePort()]
    execFileSync(
      openssl.path,
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost',
        '-keyout',
        join(dir, 'privkey.pem'),
        '-out',
        join(dir, 'fullchain.pem'),
      ],
      { stdio: 'ignore' },
    )
    const site = substitute(readFileSync(join(ROOT, 'deploy/nginx.conf'), 'utf8'), [
      ['listen 80;', `listen 127.0.0.1:${httpPort};`],
      ['listen 443 ssl;', `listen 127.0.0.1:${httpsPort} ssl;`],
      ['server 127.0.0.1:8080;', `server ${new URL(server.url).host};`],
      ['/etc/ssl/switchboard/fullchain.pem', join(dir, 'fullchain.pem')],
      ['/etc/ssl/switchboard/privkey.pem', join(dir, 'privkey.pem')],
    ])
    writeFileSync(join(dir, 'switchboard.conf'), site)
    mkdirSync(join(dir, 'logs'))
    // The main configuration a Debian host has around conf.d, reduced to this test's directory.
    writeFileSync(
      join(dir, 'nginx.conf'),
      `${process.getuid?.() === 0 ? 'user root;\n' : ''}worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path ${dir}/client_body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
    include ${dir}/switchboard.conf;
}
`,
    )
    const check = spawnSync(nginx.path, ['-t', '-p', dir, '-c', join(dir, 'nginx.conf')], { encoding: 'utf8' })
    assert.equal(check.status, 0, check.stderr)
    const proxy = startProcess(t, nginx.path, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'])
    await listening(httpsPort, proxy.child, proxy.output)

    const redirect = await new Promise<{ status: number; location: string | undefined }>((resolve, reject) => {
      const socket = tcpConnect(httpPort, '127.0.0.1', () =>
        socket.end('GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'),
      )
      let text = ''
      socket.on('data', (chunk) => {
        text += chunk
      })
      socket.on('end', () => resolve({ status: Number(text.split(' ')[1]), location: /^location: (\S+)/im.exec(text)?.[1] }))
      socket.on('error', reject)
    })
    assert.deepEqual(redirect, { status: 301, location: 'https://localhost/healthz' })
    await checkThroughProxy(`https://localhost:${httpsPort}`, readFileSync(join(dir, 'fullchain.pem')), server)
  })
})
