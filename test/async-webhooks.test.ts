import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { childrenOf } from './support/node.ts'
import { CHANNELS, type Client, httpClient, json, jsonArray, ROOT_KEY, SCRIPTS, startServer } from './support/server.ts'
import { startStub } from './support/stub-server.ts'

const EXECUTIONS = '/rest/v1/service/executions'
const LAUNCHER = new URL('../bin/switchboard', import.meta.url).pathname

async function asyncChannel(root: Client, code: string, source: string): Promise<string> {
  assert.equal((await root.post(SCRIPTS, { code: `${code}-script`, source })).status, 200)
  const channel = await root.post(CHANNELS, {
    code,
    type: 'public',
    recv_svcscriptcode: `${code}-script`,
    opts: { issync: false },
  })
  assert.equal(channel.status, 200, channel.text)
  return json(channel).token_local as string
}

async function accept(url: string, token: string, body: unknown): Promise<string> {
  const response = await fetch(`${url}/exec/${token}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  const answer = (await response.json()) as { execution_id: string }
  assert.equal(response.status, 200, JSON.stringify(answer))
  assert.match(answer.execution_id, /^[0-9a-f-]{36}$/)
  return answer.execution_id
}

/** Polls the execution until `done` holds for it, or fails after `ms`. */
async function executionWhen(
  root: Client,
  id: string,
  done: (execution: Record<string, unknown>) => boolean,
  ms = 10_000,
): Promise<Record<string, unknown>> {
  const end = performance.now() + ms
  for (;;) {
    const reply = await root.get(`${EXECUTIONS}/${id}`)
    if (reply.status === 200 && done(json(reply))) return json(reply)
    if (performance.now() > end) throw new Error(`execution ${id}: ${reply.text}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe('async webhooks (SPEC §5.4)', () => {
  it('answers the execution id at once and runs the script from the queue', async (t) => {
    const { root, url } = await startServer(t, { config: { egressAllow: ['127.0.0.0/8'] } })
    // The script cannot finish before the test opens this gate: an answer before that did not wait for it.
    let open: () => void = () => {}
    const gate = new Promise<void>((resolve) => {
      open = resolve
    })
    t.after(() => open())
    const stub = await startStub(t, async (_request, response) => {
      await gate
      response.end('{}')
    })
    const token = await asyncChannel(root, 'later', `await http.request({ url: '${stub.url}/gate' })\nreturn startparam(4).n * 2`)
    const id = await accept(url, token, { n: 21 })
    const waiting = await executionWhen(root, id, () => true)
    assert.ok(['queued', 'running'].includes(waiting.status as string), String(waiting.status))
    open()
    const ran = await executionWhen(root, id, (execution) => execution.status === 'ok')
    assert.deepEqual(ran.output, { result: 42 })
    assert.equal(ran.trigger, 'http')
    assert.equal((ran.attempts as unknown[]).length, 1)
  })

  it('retries a failing run with backoff, then keeps it as error with every attempt listed', async (t) => {
    const { root, url } = await startServer(t, {
      env: { SWITCHBOARD_SCRIPT_HOSTS: '1' },
      config: { asyncAttempts: 3, asyncRetryMs: 100 },
    })
    // Fails twice, then succeeds (its globals persist in its one warm isolate).
    const flaky = await asyncChannel(
      root,
      'flaky',
      'globalThis.runs = (globalThis.runs ?? 0) + 1\nif (globalThis.runs < 3) throw new Error("not yet " + globalThis.runs)\nreturn globalThis.runs',
    )
    const recovered = await executionWhen(root, await accept(url, flaky, {}), (execution) => execution.status === 'ok')
    assert.deepEqual(recovered.output, { result: 3 })
    const attempts = recovered.attempts as { status: string; error: { message: string } | null; at: string }[]
    assert.deepEqual(
      attempts.map((attempt) => [attempt.status, attempt.error?.message ?? null]),
      [
        ['error', 'not yet 1'],
        ['error', 'not yet 2'],
        ['ok', null],
      ],
    )
    const gaps = attempts.slice(1).map((attempt, i) => Date.parse(attempt.at) - Date.parse(attempts[i]?.at ?? ''))
    assert.ok((gaps[0] ?? 0) >= 90 && (gaps[1] ?? 0) >= 190, `backoff doubles: ${gaps.join(', ')} ms`)
    assert.equal(recovered.started_at, attempts[0]?.at, 'the record starts with its first run')
    assert.equal(recovered.attempt, 3)
    assert.equal(recovered.max_attempts, 3)
    assert.equal(recovered.next_attempt_at, undefined)

    const broken = await asyncChannel(root, 'broken', 'throw new Error("always")')
    const failed = await executionWhen(
      root,
      await accept(url, broken, {}),
      (execution) => (execution.attempts as unknown[] | undefined)?.length === 3,
    )
    assert.equal(failed.status, 'error')
    assert.equal((failed.error as { message: string }).message, 'always')
    await new Promise((resolve) => setTimeout(resolve, 1000))
    assert.equal((json(await root.get(`${EXECUTIONS}/${String(failed.id)}`)).attempts as unknown[]).length, 3, 'no fourth run')
  })

  it('shows a failing job as retrying, attempt n of m with the next run due, then as error once it gave up', async (t) => {
    const { root, url } = await startServer(t, { config: { asyncAttempts: 2, asyncRetryMs: 1500 } })
    const token = await asyncChannel(root, 'doomed', 'throw new Error("down")')
    const id = await accept(url, token, { order: 7 })
    const retrying = await executionWhen(root, id, (execution) => execution.status === 'retrying')
    const failedAt = Date.now()
    assert.equal(retrying.attempt, 1)
    assert.equal(retrying.max_attempts, 2)
    const due = Date.parse(String(retrying.next_attempt_at))
    assert.ok(due > failedAt + 500 && due < failedAt + 2500, `next attempt at ${String(retrying.next_attempt_at)}`)
    assert.equal((retrying.error as { message: string }).message, 'down')
    const listed = jsonArray(await root.get(`${EXECUTIONS}?filter=${encodeURIComponent('{"status":"retrying"}')}`))
    assert.deepEqual(
      listed.map((execution) => execution.id),
      [id],
    )
    const failed = await executionWhen(root, id, (execution) => execution.status === 'error')
    assert.equal(failed.attempt, 2)
    assert.equal(failed.next_attempt_at, undefined)
    assert.equal(failed.started_at, retrying.started_at, 'started_at stays the first attempt')
    const attempts = failed.attempts as { at: string; status: string }[]
    assert.equal(attempts.length, 2)
    assert.equal(attempts[0]?.at, failed.started_at)
    assert.ok(Date.parse(attempts[1]?.at ?? '') - Date.parse(attempts[0]?.at ?? '') >= 1400)
  })

  it('records a job whose channel was deleted before it ran as an error', async (t) => {
    const { root, url } = await startServer(t, { config: { asyncWorkers: 1 } })
    const slowToken = await asyncChannel(root, 'slow', 'await sleep(400)\nreturn 1')
    const goneToken = await asyncChannel(root, 'gone', 'return 2')
    const first = await accept(url, slowToken, {})
    const second = await accept(url, goneToken, { n: 1 })
    const gone = json(await root.post(`${CHANNELS}/lookup`, { code: 'gone' }))
    assert.equal((await root.delete(`${CHANNELS}/${String(gone.id)}`)).status, 200)
    await executionWhen(root, first, (execution) => execution.status === 'ok')
    const failed = await executionWhen(root, second, (execution) => execution.status === 'error')
    assert.match((failed.error as { message: string }).message, /could not run: the channel no longer exists/)
    assert.equal(failed.script_code, 'gone-script')
    // The record keeps the body readable (SPEC §5.6).
    assert.deepEqual((failed.input as { webhook: { body: unknown } }).webhook.body, { n: 1 })
  })
})

interface Server {
  readonly child: ChildProcess
  readonly url: Promise<string>
}

function serve(t: TestContext, dataDir: string): Server {
  const child = spawn(LAUNCHER, ['serve'], {
    env: {
      ...process.env,
      SWITCHBOARD_LOG_LEVEL: 'warn',
      SWITCHBOARD_PORT: '0',
      SWITCHBOARD_DATA_DIR: dataDir,
      SWITCHBOARD_ADMIN_KEY: ROOT_KEY,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
  })
  let stdout = ''
  const url = new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (chunk) => {
      stdout += chunk
      const found = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1]
      if (found) resolve(found)
    })
    child.on('exit', () => reject(new Error(`the server exited before listening: ${stdout}`)))
  })
  url.catch(() => {})
  return { child, url }
}

describe('an accepted async webhook survives kill -9', () => {
  it('runs every one of 500 accepted webhooks after the server is killed and restarted', async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'switchboard-kill-'))
    t.after(() => rmSync(dataDir, { recursive: true, force: true }))
    const first = serve(t, dataDir)
    const firstUrl = await first.url
    const root = httpClient(firstUrl, ROOT_KEY)
    // Slow enough that most jobs are still waiting when the server dies.
    const token = await asyncChannel(root, 'durable', 'await sleep(200)\nreturn startparam(4).n')

    const ids: string[] = []
    for (let batch = 0; batch < 10; batch++) {
      const accepted = await Promise.all(Array.from({ length: 50 }, (_, i) => accept(firstUrl, token, { n: batch * 50 + i })))
      ids.push(...accepted)
    }
    const doneBefore = jsonArray(
      await root.get(`${EXECUTIONS}?limit=1000&filter=${encodeURIComponent('{"status":"ok"}')}&mask=id`),
    ).length
    // The whole node at once, supervisor and workers: a crash (a lone supervisor's workers would drain).
    const workers = [...childrenOf(first.child.pid as number, 'worker-main').keys()]
    first.child.kill('SIGKILL')
    for (const pid of workers) process.kill(pid, 'SIGKILL')
    await new Promise((resolve) => first.child.once('exit', resolve))
    t.diagnostic(`${doneBefore} of 500 had run (and were recorded) just before the kill`)
    assert.ok(doneBefore < 500, 'some accepted webhooks were still waiting when the server was killed')

    const second = serve(t, dataDir)
    const again = httpClient(await second.url, ROOT_KEY)

    const end = performance.now() + 60_000
    let ok = new Map<string, unknown>()
    while (performance.now() < end) {
      const records = jsonArray(
        await again.get(`${EXECUTIONS}?limit=1000&filter=${encodeURIComponent('{"status":"ok"}')}&mask=id,output`),
      )
      ok = new Map(records.map((record) => [record.id as string, (record.output as { result: unknown }).result]))
      if (ids.every((id) => ok.has(id))) break
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    const missing = ids.filter((id) => !ok.has(id))
    assert.equal(missing.length, 0, `${missing.length} of 500 accepted webhooks never ran`)
    assert.deepEqual(
      ids.map((id) => ok.get(id)),
      ids.map((_, i) => i),
    )
    second.child.kill('SIGTERM')
  })
})
