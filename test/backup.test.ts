import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { cli, LAUNCHER } from './support/cli.ts'
import { CHANNELS, type Client, httpClient, json, jsonArray, ROOT_KEY, SCRIPTS } from './support/server.ts'

const EXECUTIONS = '/rest/v1/service/executions'

interface Served {
  readonly child: ChildProcess
  readonly url: string
  readonly banner: string
  readonly exit: Promise<number | null>
}

/** `bin/switchboard serve` as an operator runs it, on `dataDir`, with the root key from the environment or not. */
async function serve(t: TestContext, dataDir: string, env: Record<string, string> = {}): Promise<Served> {
  const child = spawn(LAUNCHER, ['serve'], {
    env: { ...process.env, SWITCHBOARD_DATA_DIR: dataDir, SWITCHBOARD_PORT: '0', SWITCHBOARD_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      await exit
    }
  })
  let stdout = ''
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      stdout += chunk
      const found = /listening on (http:\/\/\S+)/.exec(stdout)?.[1]
      if (found) setTimeout(() => resolve(found), 50)
    })
    child.on('exit', () => reject(new Error(`the server exited before it listened: ${stdout}`)))
  })
  return { child, url, banner: stdout, exit }
}

function tempDir(t: TestContext, name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `switchboard-${name}-`))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Sync webhooks from `clients` loops and channel creates from one more, until `stop`; every answer is counted. */
function load(url: string, root: Client, token: string, clients: number) {
  let stopped = false
  const failures: string[] = []
  let webhooks = 0
  const created: string[] = []
  const hook = httpClient(url, token)
  const loops = Array.from({ length: clients }, async (_, client) => {
    for (let i = 0; !stopped; i++) {
      const reply = await hook.post('/exec', { client, i })
      if (reply.status === 200) webhooks++
      else failures.push(`${reply.status} ${reply.text}`)
    }
  })
  const creates = (async () => {
    for (let i = 0; !stopped; i++) {
      const reply = await root.post(CHANNELS, { code: `load-${i}`, type: 'public' })
      if (reply.status === 200) created.push(`load-${i}`)
      else failures.push(`${reply.status} ${reply.text}`)
    }
  })()
  return {
    get webhooks() {
      return webhooks
    },
    created,
    failures,
    async stop() {
      stopped = true
      await Promise.all([...loops, creates])
    },
  }
}

describe('bin/switchboard backup', () => {
  it('copies the database while the server writes to it; the copy restores into a fresh data directory and serves', async (t) => {
    const dataDir = tempDir(t, 'backup-data')
    const server = await serve(t, dataDir, { SWITCHBOARD_ADMIN_KEY: ROOT_KEY })
    const root = httpClient(server.url, ROOT_KEY)
    assert.equal((await root.post(SCRIPTS, { code: 'echo', source: 'return { got: startparam(4) }' })).status, 200)
    const hook = json(
      await root.post(CHANNELS, { code: 'hook', type: 'public', recv_svcscriptcode: 'echo', opts: { issync: true } }),
    )

    // Load: 6 clients of sync webhooks (each writes an execution record) and a stream of creates.
    const running = load(server.url, root, String(hook.token_local), 6)
    while (running.webhooks < 50 || running.created.length < 5) await new Promise((resolve) => setTimeout(resolve, 20))
    const before = { created: running.created.length, webhooks: running.webhooks }
    const backupFile = join(tempDir(t, 'backup-out'), 'switchboard-backup.db')
    const started = performance.now()
    const backup = await cli(['backup', backupFile, '-o', 'json'], { SWITCHBOARD_DATA_DIR: dataDir })
    const tookMs = performance.now() - started
    const during = { created: running.created.length - before.created, webhooks: running.webhooks - before.webhooks }
    await running.stop()

    assert.equal(backup.code, 0, backup.stderr)
    const report = JSON.parse(backup.stdout) as { database: string; file: string; bytes: number; ms: number }
    assert.deepEqual([report.database, report.file], [join(dataDir, 'switchboard.db'), backupFile])
    assert.equal(report.bytes, statSync(backupFile).size)
    assert.deepEqual(running.failures, [], 'no request failed while the backup ran')
    assert.ok(during.webhooks > 0, `the server kept answering during the backup (${tookMs.toFixed(0)} ms)`)
    t.diagnostic(
      `backup of ${report.bytes} bytes in ${report.ms} ms (the command: ${tookMs.toFixed(0)} ms); meanwhile ${during.webhooks} webhooks and ${during.created} creates were answered`,
    )
    server.child.kill('SIGTERM')
    assert.equal(await server.exit, 0)

    // Restore into a fresh data directory, as the operations guide says, and serve from it. The
    // root key is in the database: the restored server knows it without SWITCHBOARD_ADMIN_KEY.
    const restoredDir = tempDir(t, 'backup-restored')
    copyFileSync(backupFile, join(restoredDir, 'switchboard.db'))
    const restored = await serve(t, restoredDir, { SWITCHBOARD_ADMIN_KEY: '' })
    assert.doesNotMatch(restored.banner, /Root key/, 'not a first start: the domains and the key came back')
    const again = httpClient(restored.url, ROOT_KEY)
    const channels = jsonArray(await again.get(`${CHANNELS}?limit=1000&mask=code`)).map((channel) => channel.code)
    // A consistent snapshot: every create answered before the backup began is there, and no more
    // than were answered by its end; nothing half-written.
    assert.ok(channels.includes('hook'))
    const loaded = channels.filter((code) => String(code).startsWith('load-')).length
    assert.ok(loaded >= before.created && loaded <= before.created + during.created + 1, `${loaded} load channels`)
    assert.deepEqual(
      channels.filter((code) => String(code).startsWith('load-')).sort(),
      Array.from({ length: loaded }, (_, i) => `load-${i}`).sort(),
      'the creates in the copy are a prefix of those answered',
    )
    // Records are written a few ms after their answers, so the copy holds about those before it.
    const executions = Number((await again.get(`${EXECUTIONS}?limit=0`)).headers.get('x-total-count'))
    assert.ok(executions > 0 && executions <= running.webhooks, `${executions} execution records`)
    assert.deepEqual(json(await httpClient(restored.url, String(hook.token_local)).post('/exec', { after: 'restore' })), {
      got: { after: 'restore' },
    })
  })

  it('never overwrites a file, refuses a cluster store, and names a missing database', async (t) => {
    const dataDir = tempDir(t, 'backup-refusals')
    const taken = join(dataDir, 'taken.db')
    writeFileSync(taken, 'mine')
    mkdirSync(join(dataDir, 'empty'))
    assert.deepEqual(await cli(['backup', taken], { SWITCHBOARD_DATA_DIR: join(dataDir, 'empty') }), {
      code: 1,
      stdout: '',
      stderr: `switchboard: no database at ${join(dataDir, 'empty', 'switchboard.db')}\n`,
    })
    await cli(['migrate'], { SWITCHBOARD_DATA_DIR: dataDir })
    assert.deepEqual(await cli(['backup', taken], { SWITCHBOARD_DATA_DIR: dataDir }), {
      code: 1,
      stdout: '',
      stderr: `switchboard: ${taken} exists: a backup never overwrites a file; choose another name\n`,
    })
    const cluster = await cli(['backup', join(dataDir, 'x.db')], {
      SWITCHBOARD_DATA_DIR: dataDir,
      SWITCHBOARD_DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test',
    })
    assert.equal(cluster.code, 1)
    assert.match(cluster.stderr, /SWITCHBOARD_DATABASE_URL is set: the state is in PostgreSQL; back it up with pg_dump/)
    assert.equal(existsSync(join(dataDir, 'x.db')), false)
    const done = await cli(['backup', join(dataDir, 'idle.db')], { SWITCHBOARD_DATA_DIR: dataDir })
    assert.equal(done.code, 0, done.stderr)
    assert.match(
      done.stdout,
      new RegExp(`^backed up ${join(dataDir, 'switchboard.db')} into ${join(dataDir, 'idle.db')} \\(\\d+ bytes, \\d+ ms\\)\\n$`),
    )
  })
})
