import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { LAUNCHER } from './support/cli.ts'
import { CHANNELS, httpClient, json, jsonArray } from './support/server.ts'

const ROOT = new URL('..', import.meta.url).pathname
const MARKER = '<!-- the tour: test/readme-tour.test.ts runs this block against a fresh server -->'

/** The README's tour: the shell block after the marker. */
function tourBlock(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const at = readme.indexOf(MARKER)
  assert.ok(at >= 0, 'README.md marks the tour')
  const block = /^```sh\n([\s\S]*?)^```$/m.exec(readme.slice(at + MARKER.length))
  assert.ok(block?.[1], 'a ```sh block follows the marker')
  return block[1]
}

/** `bin/switchboard serve` as a user starts it, on a free port and a data directory of its own; resolves with its banner. */
async function serve(t: TestContext): Promise<{ url: string; key: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'switchboard-tour-data-'))
  const child = spawn(LAUNCHER, ['serve'], {
    env: {
      ...process.env,
      SWITCHBOARD_PORT: '0',
      SWITCHBOARD_DATA_DIR: dataDir,
      SWITCHBOARD_LOG_LEVEL: 'warn',
      SWITCHBOARD_ADMIN_KEY: '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = new Promise((resolve) => child.on('exit', resolve))
  t.after(async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM')
      await exited
    }
    rmSync(dataDir, { recursive: true, force: true })
  })
  let stdout = ''
  let stderr = ''
  child.stderr.on('data', (chunk) => {
    stderr += chunk
  })
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      stdout += chunk
      const url = /listening on (http:\/\/\S+)/.exec(stdout)?.[1]
      const key = /Root key \(shown only now; keep it safe\): (\S+)/.exec(stdout)?.[1]
      if (url && key) resolve({ url, key })
    })
    child.on('exit', () => reject(new Error(`the server exited before its banner; stderr: ${stderr}`)))
  })
}

describe('README.md', () => {
  it('runs its tour as written, top to bottom, against a fresh server', async (t) => {
    const { url, key } = await serve(t)
    // A clone's directory as the tour sees it (bin/ is the repository's), so tour/ is written here.
    const work = mkdtempSync(join(tmpdir(), 'switchboard-tour-'))
    t.after(() => rmSync(work, { recursive: true, force: true }))
    symlinkSync(join(ROOT, 'bin'), join(work, 'bin'))

    // As pasted into a shell where the two variables of the README's block before it are set,
    // except that any failing command stops it (-e) and an unset variable is an error (-u).
    const child = spawn('bash', ['-euo', 'pipefail', '-c', tourBlock()], {
      cwd: work,
      env: { ...process.env, SWITCHBOARD_URL: url, SWITCHBOARD_KEY: key, SWITCHBOARD_ADMIN_KEY: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => {
      stdout += chunk
    })
    child.stderr.on('data', (chunk) => {
      stderr += chunk
    })
    const code = await new Promise((resolve) => child.on('close', resolve))
    assert.equal(code, 0, `the tour stopped; stdout:\n${stdout}\nstderr:\n${stderr}`)

    // What it printed, in order: each of these lines comes after the one before.
    const expected = [
      'would create hello',
      'created hello',
      /^created channel hello \([0-9a-f-]{36}\)$/,
      /^hello +public +sync +hello +- +-$/,
      '{"hi":{"order":7}}',
      '{"hi":{"order":7}}',
      '{"hi":{"order":"8"}}',
      /^\S+Z {2}ok {7}http {7}hello {2}hello .* ms {2}[0-9a-f-]{36}$/,
      /^execution [0-9a-f-]{36}$/,
      'output    {"result":{"hi":{"order":"8"}}}',
      'updated hello',
      'trigger   replay',
      'output    {"result":{"hello":{"order":"8"},"at":"/exec/~/orders?rush=1"}}',
      /^\{"id":"[0-9a-f-]{36}","_links":\{"self":\{"href":"\/rest\/v1\/service\/integration_points\/[0-9a-f-]{36}"\}\}\}$/,
      '[{"code":"hello","opts":{"title":"My first channel"}}]',
      /^created channel drop /,
      /^\{"path":"reports\/report\.csv","size":24,"content_type":"text\/csv; charset=utf-8","mtime":"\S+Z"\}$/,
      'id,total',
      /^\[\{"actor":\{"kind":"channel","id":"[0-9a-f-]{36}"\},"collection":"files","operation":"create","fields":\[/,
      /^new token_local of hello: [0-9a-f]{32}$/,
      '{"error_code":1404,"error_message":"no channel has this token"}',
    ]
    const lines = stdout.split('\n')
    let at = 0
    for (const want of expected) {
      const found = lines.findIndex((line, i) => i >= at && (typeof want === 'string' ? line === want : want.test(line)))
      assert.ok(found >= 0, `after line ${at} the tour printed no ${String(want)}; stdout:\n${stdout}`)
      at = found + 1
    }

    // And what it did is there.
    const root = httpClient(url, key)
    const channels = jsonArray(await root.get(`${CHANNELS}?order=code&mask=code,opts.title,opts.allow_files_api`))
    assert.deepEqual(channels, [
      { code: 'drop', opts: { allow_files_api: true, title: '' } },
      { code: 'hello', opts: { allow_files_api: false, title: 'My first channel' } },
    ])
    const script = json(await root.post('/rest/v1/service/svcscripts/lookup', { code: 'hello' }))
    assert.equal(
      json(await root.get(`/rest/v1/service/svcscripts/${String(script.id)}`)).source,
      'return {hello: startparam(4), at: startparam(3)}\n',
    )
    assert.equal(readFileSync(join(work, 'tour/report.csv'), 'utf8'), 'id,total\n1,9.99\n2,19.50\n')
  })
})
