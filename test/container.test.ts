import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { parse } from 'yaml'
import { loadConfig } from '../src/config.ts'
import { CHANNELS, httpClient, json } from './support/server.ts'

/**
 * The container image and the compose files. No container engine runs on the test machines, so
 * the image is checked as far as it can be without one: what the Dockerfile copies exists, the
 * compose files' environments pass the server's own configuration check, and the image's start
 * script (bin/container-start, its ENTRYPOINT and HEALTHCHECK) is run as the image runs it.
 */

const ROOT = new URL('..', import.meta.url).pathname
const START = join(ROOT, 'bin/container-start')

function run(args: readonly string[], env: Record<string, string>) {
  const child = spawn(START, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => {
    stdout += chunk
  })
  child.stderr.on('data', (chunk) => {
    stderr += chunk
  })
  const exit = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout: stdout, stderr })),
  )
  return { child, exit, stdout: () => stdout }
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-container-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A compose environment as the server would get it: `${X:-default}` → default, `${X:?…}` → `given[X]`. */
function environmentOf(service: { environment?: Record<string, string> }, given: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(service.environment ?? {})) {
    out[name] = String(value).replace(/\$\{(\w+)(?::-([^}]*)|:\?[^}]*)?\}/g, (_, variable: string, fallback?: string) => {
      const found = given[variable] ?? fallback
      assert.ok(found !== undefined, `${name} needs ${variable}`)
      return found
    })
  }
  return out
}

describe('the container image', () => {
  it('is built on a slim Node 24, runs as a user that is not root, keeps /data in a volume and checks its health', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
    assert.match(dockerfile, /^ARG NODE_IMAGE=node:24-[a-z]+-slim$/m)
    const stages = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((match) => match[1])
    // Both stages on that image: \${NODE_IMAGE}.
    assert.deepEqual(stages, ['$' + '{NODE_IMAGE}', '$' + '{NODE_IMAGE}'])
    const final = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '))
    assert.match(final, /^USER node$/m)
    assert.match(final, /^VOLUME \/data$/m)
    assert.match(final, /^ENV SWITCHBOARD_DATA_DIR=\/data SWITCHBOARD_HOST=0\.0\.0\.0 SWITCHBOARD_PORT=8080$/m)
    assert.match(final, /^HEALTHCHECK .* CMD \["\/app\/bin\/container-start", "healthcheck"\]$/m)
    assert.match(final, /^ENTRYPOINT \["\/app\/bin\/container-start"\]$/m)
    // What it copies from the repository is there (and not kept out by .dockerignore).
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').filter(Boolean)
    for (const [, sources] of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const source of (sources as string).split(' ').filter((word) => word !== '.')) {
        assert.ok(existsSync(join(ROOT, source)), `COPY ${source}`)
        assert.ok(!ignored.includes(source), `${source} is not ignored`)
      }
    }
    for (const path of ['src/cli.ts', 'bin/build-server.ts', 'bin/container-start', 'ui/vite.config.ts', 'LICENSE']) {
      assert.ok(existsSync(join(ROOT, path)) && !ignored.includes(path.split('/')[0] as string), path)
    }
    assert.deepEqual(
      ['node_modules', '.runtime', '.build', 'data', 'ui/dist'].filter((path) => !ignored.includes(path)),
      [],
      'nothing built on the host goes into the image',
    )
  })

  it('has compose files whose environments the server accepts: one node, and a cluster on PostgreSQL and NATS', () => {
    const single = parse(readFileSync(join(ROOT, 'compose.yaml'), 'utf8'))
    const node = single.services.switchboard
    assert.equal(node.build, '.')
    assert.deepEqual(node.volumes, ['switchboard-data:/data'])
    assert.deepEqual(node.ports, ['8080:8080'])
    const embedded = loadConfig({ ...environmentOf(node, {}), SWITCHBOARD_DATA_DIR: '/data', SWITCHBOARD_HOST: '0.0.0.0' })
    assert.deepEqual([embedded.databaseUrl, embedded.natsUrl, embedded.adminKey], [undefined, undefined, undefined])

    // Merge keys (`<<: *node`), as compose reads them.
    const cluster = parse(readFileSync(join(ROOT, 'compose.cluster.yaml'), 'utf8'), { merge: true })
    assert.deepEqual(Object.keys(cluster.services), ['postgres', 'nats', 'switchboard-1', 'switchboard-2', 'balancer'])
    assert.match(cluster.services.nats.command.join(' '), /-js -sd \/data/)
    const given = { POSTGRES_PASSWORD: 'pw-0123456789', SWITCHBOARD_ADMIN_KEY: 'root-key-0123456789abcdef' }
    for (const name of ['switchboard-1', 'switchboard-2']) {
      const config = loadConfig(environmentOf(cluster.services[name], given))
      assert.deepEqual(
        [config.databaseUrl, config.natsUrl, config.adminKey, config.trustProxy],
        [
          'postgres://switchboard:pw-0123456789@postgres:5432/switchboard',
          'nats://nats:4222',
          'root-key-0123456789abcdef',
          ['172.16.0.0/12'],
        ],
        name,
      )
      assert.equal(cluster.services[name].build, '.')
    }
    assert.deepEqual(cluster.services.balancer.command.slice(-4), ['--to', 'switchboard-1:8080', '--to', 'switchboard-2:8080'])
  })

  it('starts as the image starts it: on every interface, /data checked, SIGTERM to the server itself, and a healthcheck', async (t) => {
    // The image holds the server built (.build/); on a clone, bin/switchboard builds it.
    const built = spawnSync(join(ROOT, 'bin/switchboard'), ['version'], { encoding: 'utf8' })
    assert.equal(built.status, 0, built.stderr)
    const dir = tempDir(t)
    const port = await freePort()
    const env = {
      SWITCHBOARD_DATA_DIR: join(dir, 'data'),
      SWITCHBOARD_PORT: String(port),
      SWITCHBOARD_HOST: '',
      SWITCHBOARD_ADMIN_KEY: '',
    }
    const healthless = await run(['healthcheck'], env).exit
    assert.equal(healthless.code, 1)
    assert.equal(healthless.stderr, `http://127.0.0.1:${port}/healthz: ECONNREFUSED\n`)

    const server = run([], env)
    t.after(() => {
      if (server.child.exitCode === null) server.child.kill('SIGKILL')
    })
    const banner = await new Promise<string>((resolve, reject) => {
      server.child.stdout.on('data', () => {
        if (/-d '\{.*\}'\n/.test(server.stdout())) resolve(server.stdout())
      })
      server.exit.then((done) => reject(new Error(`exited: ${done.stderr}`)))
    })
    assert.match(banner, new RegExp(`listening on http://0\\.0\\.0\\.0:${port} `), 'on every interface, as in a container')
    const key = /Root key \(shown only now; keep it safe\): (\S+)/.exec(banner)?.[1] as string
    // The script replaced itself with node: a container's stop signal reaches the server.
    const command = readFileSync(`/proc/${server.child.pid}/cmdline`, 'utf8').split('\0')
    assert.deepEqual(
      [command[1], command.at(-3), command.at(-2)],
      ['--no-node-snapshot', join(ROOT, '.build/src/cli.js'), 'serve'],
    )

    assert.deepEqual(await run(['healthcheck'], env).exit, { code: 0, stdout: '', stderr: '' })
    const url = `http://127.0.0.1:${port}`
    const created = json(await httpClient(url, key).post(CHANNELS, { code: 'in-a-container', type: 'public' }))
    assert.equal(created.code, 'in-a-container')
    // Other commands run the same way (compose.yaml's backup line).
    const backup = await run(['backup', join(dir, 'copy.db')], env).exit
    assert.equal(backup.code, 0, backup.stderr)
    assert.ok(readFileSync(join(dir, 'copy.db')).length > 0)

    server.child.kill('SIGTERM')
    assert.equal((await server.exit).code, 0, 'a graceful shutdown')
    assert.equal((await run(['healthcheck'], env).exit).code, 1)
  })

  it('refuses a data directory it cannot write, saying what to mount', async (t) => {
    const dir = tempDir(t)
    writeFileSync(join(dir, 'a-file'), '')
    const refused = await run(['serve'], { SWITCHBOARD_DATA_DIR: join(dir, 'a-file', 'data') }).exit
    assert.equal(refused.code, 1)
    assert.match(
      refused.stderr,
      /^switchboard: cannot write to the data directory .*a-file\/data as uid \d+: mount a volume there that this user may write/,
    )
  })
})
