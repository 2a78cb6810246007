import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { CHANNELS, httpClient, json } from './support/server.ts'

const LAUNCHER = new URL('../bin/switchboard', import.meta.url).pathname

interface Run {
  readonly child: ChildProcess
  /** Resolves with stdout once the banner has been printed. */
  readonly banner: Promise<string>
  readonly exit: Promise<{ code: number | null; stdout: string; stderr: string }>
}

function run(t: TestContext, args: string[], env: Record<string, string>): Run {
  const child = spawn(LAUNCHER, args, {
    env: { ...process.env, SWITCHBOARD_LOG_LEVEL: 'warn', SWITCHBOARD_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  let stdout = ''
  let stderr = ''
  child.stderr.on('data', (chunk) => {
    stderr += chunk
  })
  const banner = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      stdout += chunk
      // The banner is written in one piece and, on a first start, ends with the curl line.
      if (/listening on/.test(stdout) && (!/Create a first channel/.test(stdout) || /-d '\{.*\}'\n/.test(stdout))) resolve(stdout)
    })
    child.on('exit', () => reject(new Error(`exited before the banner; stderr: ${stderr}`)))
  })
  const exit = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    child.on('exit', (code) => resolve({ code, stdout, stderr }))
  })
  banner.catch(() => {})
  return { child, banner, exit }
}

function tempDataDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-cli-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

describe('bin/switchboard', () => {
  it('prints the address, the root key once and a working curl on first start; exits 0 on SIGTERM', async (t) => {
    const dataDir = tempDataDir(t)
    const first = run(t, ['serve'], { SWITCHBOARD_DATA_DIR: dataDir })
    const banner = await first.banner
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(banner)?.[1]
    const key = /Root key \(shown only now; keep it safe\): (sbr_[A-Za-z0-9_-]{43})/.exec(banner)?.[1]
    assert.ok(url && key, banner)
    assert.match(banner, new RegExp(`curl -sS -X POST ${url}/rest/v1/service/integration_points`))
    assert.match(banner, new RegExp(`Authorization: Bearer ${key}`))
    // What the printed curl sends:
    const body = JSON.parse(/-d '(.*)'/.exec(banner)?.[1] ?? '{}')
    const channel = json(await httpClient(url, key).post(CHANNELS, body))
    assert.equal(channel.code, 'first')
    first.child.kill('SIGTERM')
    assert.equal((await first.exit).code, 0)

    const second = run(t, ['serve'], { SWITCHBOARD_DATA_DIR: dataDir })
    const again = await second.banner
    assert.doesNotMatch(again, /Root key|sbr_/)
    const url2 = /listening on (http:\/\/[^\s]+)/.exec(again)?.[1] as string
    assert.equal((await httpClient(url2, key).get(CHANNELS)).headers.get('x-total-count'), '1', 'the data survived the restart')
    second.child.kill('SIGINT')
    assert.equal((await second.exit).code, 0)
  })

  it('never prints a root key that came from SWITCHBOARD_ADMIN_KEY', async (t) => {
    const secret = 'from-the-environment-0123456789'
    const started = run(t, ['serve'], { SWITCHBOARD_DATA_DIR: tempDataDir(t), SWITCHBOARD_ADMIN_KEY: secret })
    const banner = await started.banner
    assert.doesNotMatch(banner, new RegExp(secret))
    assert.match(banner, /Root key: the value of SWITCHBOARD_ADMIN_KEY/)
    assert.match(banner, /Authorization: Bearer \$SWITCHBOARD_ADMIN_KEY/)
    const url = /listening on (http:\/\/[^\s]+)/.exec(banner)?.[1] as string
    assert.equal((await httpClient(url, secret).get(CHANNELS)).status, 200)
    started.child.kill('SIGTERM')
    const { stdout, stderr } = await started.exit
    assert.doesNotMatch(stdout + stderr, new RegExp(secret))
  })

  it('migrates, helps, and refuses bad commands and bad configuration with clear exit codes', async (t) => {
    const dataDir = tempDataDir(t)
    const migrated = await run(t, ['migrate'], { SWITCHBOARD_DATA_DIR: dataDir }).exit
    assert.equal(migrated.code, 0)
    assert.match(migrated.stdout, /schema is up to date \(sqlite\)/)
    const help = await run(t, ['help'], {}).exit
    assert.equal(help.code, 0)
    assert.match(help.stdout, /Usage: switchboard <command>/)
    for (const command of ['serve', 'migrate', 'backup']) {
      const asked = await run(t, [command, '--help'], { SWITCHBOARD_DATA_DIR: dataDir }).exit
      assert.equal(asked.code, 0, asked.stderr)
      assert.match(asked.stdout, new RegExp(`^Usage: switchboard ${command}\\b`))
    }
    const unknown = await run(t, ['frobnicate'], {}).exit
    assert.equal(unknown.code, 2)
    assert.match(unknown.stderr, /unknown command 'frobnicate'/)
    const bad = await run(t, ['serve'], { SWITCHBOARD_DATA_DIR: dataDir, SWITCHBOARD_LICENSE: 'lots' }).exit
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /switchboard: SWITCHBOARD_LICENSE must be a JSON object/)

    const owner = run(t, ['serve'], { SWITCHBOARD_DATA_DIR: dataDir })
    await owner.banner
    const second = await run(t, ['serve'], { SWITCHBOARD_DATA_DIR: dataDir }).exit
    assert.equal(second.code, 1)
    assert.match(
      second.stderr,
      /^switchboard: .*switchboard\.db is in use by another process \(is another Switchboard running on this data directory\?\)\n$/,
    )
    owner.child.kill('SIGTERM')
    assert.equal((await owner.exit).code, 0)
  })
})
