import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { describe, it } from 'node:test'
import { VERSION } from '../src/version.ts'
import { parseMetrics, sample } from './support/metrics.ts'
import { childrenOf, startNode, type TestNode } from './support/node.ts'
import { runScript, saveScript } from './support/scripts.ts'
import { CHANNELS, type Client, httpClient, json, oneShotClient, ROOT_KEY } from './support/server.ts'
import { TestSocket } from './support/ws-client.ts'

// Under Node 24's V8 this allocation pattern is not always stopped at the heap limit: the isolate
// may keep running after isolated-vm disposes it. WebAssembly memory lives outside the heap.
const RUNAWAY = 'const a = []\nwhile (true) a.push(new Array(1000).fill(1))'
const WASM = 'const m = new WebAssembly.Memory({ initial: 9600 })\nreturn m.buffer.byteLength'

/** A client of `domain` (the root key acting there). */
function inDomain(node: TestNode, domain: string): Client {
  return httpClient(node.url, ROOT_KEY, { 'switchboard-domain': domain })
}

async function createDomain(node: TestNode, name: string, opts: Record<string, unknown> = {}): Promise<Client> {
  const reply = await node.root.post('/rest/v1/master/domains', { name, opts })
  assert.equal(reply.status, 200, reply.text)
  return inDomain(node, name)
}

/** A sync channel of `client`'s domain whose script returns `source`'s result; answers its token. */
async function syncChannel(client: Client, code: string, source: string, opts: Record<string, unknown> = {}): Promise<string> {
  await saveScript(client, code, source)
  const reply = await client.post(CHANNELS, { code, type: 'public', recv_svcscriptcode: code, opts: { issync: true, ...opts } })
  assert.equal(reply.status, 200, reply.text)
  return json(reply).token_local as string
}

/** One POST on a connection of its own (as many webhook senders do): status, body and time taken. */
function postOnce(base: string, path: string, body: unknown): Promise<{ status: number; body: string; ms: number }> {
  const url = new URL(base)
  const payload = JSON.stringify(body)
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const outgoing = request(
      {
        host: url.hostname,
        port: url.port,
        method: 'POST',
        path,
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (response) => {
        let text = ''
        response.on('data', (chunk) => {
          text += chunk
        })
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text, ms: performance.now() - started }))
        response.on('error', reject)
      },
    )
    outgoing.on('error', reject)
    outgoing.end(payload)
  })
}

/**
 * A steady stream of webhooks to a channel until `stop()`: each answer's time, and every request
 * that did not get the script's answer.
 */
function stream(base: string, token: string, everyMs: number) {
  const times: number[] = []
  const failures: string[] = []
  let running = true
  let n = 0
  const loop = (async () => {
    while (running) {
      const sent = n++
      try {
        const answer = await postOnce(base, `/exec/${token}`, { n: sent })
        if (answer.status !== 200 || answer.body !== JSON.stringify({ n: sent })) failures.push(`${answer.status} ${answer.body}`)
        times.push(answer.ms)
      } catch (error) {
        failures.push(String(error))
      }
      await new Promise((resolve) => setTimeout(resolve, everyMs))
    }
  })()
  return {
    times,
    failures,
    async stop() {
      running = false
      await loop
    },
  }
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] as number
}

/**
 * The p99 of `token`'s webhooks over `ms` with no script misbehaving but another process keeping
 * one core busy, as the runaway or spinning script will: the machine's own latency, which the
 * bounds below add to their targets. They then measure whether a worker's event loop stalls, not
 * how a loaded 2-core machine shares its CPU (there the p99 alone ranged from 50 to 440 ms).
 */
async function quietP99(base: string, token: string, ms: number): Promise<number> {
  const burner = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' })
  const quiet = stream(base, token, 10)
  await new Promise((resolve) => setTimeout(resolve, ms))
  await quiet.stop()
  burner.kill('SIGKILL')
  assert.deepEqual(quiet.failures, [])
  return percentile(quiet.times, 99)
}

/** A process's Unix niceness (/proc/<pid>/stat, field 19). */
function niceness(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])
}

/** Failed webhook answers, each with its execution's error when it has one. */
function explainFailures(client: Client, failures: readonly string[]): Promise<string[]> {
  return Promise.all(
    failures.map(async (failure) => {
      const id = /execution ([0-9a-f-]{36})/.exec(failure)?.[1]
      if (id === undefined) return failure
      const record = json(await client.get(`/rest/v1/service/executions/${id}`))
      return `${failure}: ${String(record.status)} ${JSON.stringify(record.error)}`
    }),
  )
}

/** Every worker pid seen while `watching` runs: how many workers were replaced. */
function watchWorkers(node: TestNode) {
  const seen = new Set(node.workers().keys())
  const initial = seen.size
  const timer = setInterval(() => {
    for (const pid of node.workers().keys()) seen.add(pid)
  }, 50)
  return {
    replaced: () => seen.size - initial,
    stop: () => clearInterval(timer),
  }
}

describe('containment of scripts V8 cannot stop (SPEC §13)', () => {
  it('costs one worker replacement at most in worker isolation, quarantines the script, and a neighbour loses nothing', async (t) => {
    const node = await startNode(t, { workers: 2, env: { SWITCHBOARD_SCRIPT_MEMORY_MB: '64' } })
    const neighbour = await createDomain(node, 'neighbour')
    const echo = await syncChannel(neighbour, 'echo', 'return startparam(4)')
    const runaway = await saveScript(node.root, 'runaway', RUNAWAY)
    const wasm = await saveScript(node.root, 'wasm', WASM)
    // A control: another node, where no script misbehaves, serving the same channel meanwhile. It
    // shares the machine's load as it comes and goes over the minute this test takes, which
    // a measurement before and after alone can miss.
    const control = await startNode(t, { workers: 1 })
    const controlEcho = await syncChannel(control.root, 'echo', 'return startparam(4)')
    const quietBefore = await quietP99(node.url, echo, 1500)
    const workers = watchWorkers(node)
    const steady = stream(node.url, echo, 20)
    const baseline = stream(control.url, controlEcho, 20)
    t.after(() => Promise.all([steady.stop(), baseline.stop(), workers.stop()]))

    // A connection per run, as the neighbour's senders: with fetch's pool, a run could go out on a
    // keep-alive connection to the tainted worker in the instant that worker closes its idle
    // connections (docs/operations.md), and get no answer (twice in CI: "other side closed").
    const operator = oneShotClient(node.url, ROOT_KEY)
    for (let i = 0; i < 20; i++) {
      const answer = await runScript(operator, runaway, { timeout: 3000 })
      assert.equal(answer.httpStatus, 200)
      assert.ok(['error', 'timeout'].includes(answer.status), `run ${i}: ${answer.status}`)
    }
    for (let i = 0; i < 20; i++) {
      const answer = await runScript(operator, wasm, { timeout: 3000 })
      assert.equal(answer.status, 'error')
      assert.match(answer.error?.message ?? '', /WebAssembly is not defined/)
    }
    await Promise.all([steady.stop(), baseline.stop()])
    workers.stop()
    // Measured again after, and the control's: the other tests' load drifts over the minute this
    // one takes, and the bound is over the machine's own latency at its worst.
    assert.deepEqual(baseline.failures, [])
    const quiet = Math.max(quietBefore, await quietP99(node.url, echo, 1500), percentile(baseline.times, 99))

    assert.ok(workers.replaced() <= 1, `${workers.replaced()} workers were replaced`)
    assert.deepEqual(steady.failures, [])
    const p99 = percentile(steady.times, 99)
    t.diagnostic(
      `neighbour: ${steady.times.length} webhooks, p99 ${p99.toFixed(1)} ms (the machine's own ${quiet.toFixed(1)} ms: the worst of a core taken before and after, and of the control node meanwhile at ${percentile(baseline.times, 99).toFixed(1)} ms); workers replaced: ${workers.replaced()}`,
    )
    // SPEC §13's 100 ms, over what this machine takes anyway (held behind a runaway run, a
    // neighbour would wait up to its 3 s timeout).
    assert.ok(p99 <= 100 + quiet, `neighbour p99 ${p99.toFixed(1)} ms, the machine's own ${quiet.toFixed(1)} ms`)

    // The version that tainted a worker is quarantined, on the script, with the reason.
    const script = json(await node.root.get(`/rest/v1/service/svcscripts/${runaway}`))
    const quarantined = script.quarantined as Record<string, unknown>
    assert.match(String(quarantined.reason), /ran out of memory/)
    assert.ok(!Number.isNaN(Date.parse(String(quarantined.since))))
    assert.equal(json(await node.root.get('/healthz')).status, 'ok')
  })

  it('fails no run of another domain in process isolation', async (t) => {
    const node = await startNode(t, {
      workers: 2,
      env: { SWITCHBOARD_SCRIPT_ISOLATION: 'process', SWITCHBOARD_SCRIPT_MEMORY_MB: '64' },
    })
    const other = await createDomain(node, 'other')
    const inWorker = await createDomain(node, 'fast', { script_isolation: 'worker' })
    const echoOther = await syncChannel(other, 'echo', 'return startparam(4)')
    const echoWorker = await syncChannel(inWorker, 'echo', 'return startparam(4)')
    const runaway = await saveScript(node.root, 'runaway', RUNAWAY)
    const streams = [stream(node.url, echoOther, 10), stream(node.url, echoWorker, 10)]
    t.after(() => Promise.all(streams.map((s) => s.stop())))
    // A connection per run, as the neighbour's senders: with fetch's pool, a run could go out on a
    // keep-alive connection to the tainted worker in the instant that worker closes its idle
    // connections (docs/operations.md), and get no answer (twice in CI: "other side closed").
    const operator = oneShotClient(node.url, ROOT_KEY)
    for (let i = 0; i < 20; i++) {
      const answer = await runScript(operator, runaway, { timeout: 3000 })
      assert.ok(['error', 'timeout'].includes(answer.status), `run ${i}: ${answer.status}`)
    }
    for (const s of streams) await s.stop()
    const failed = await Promise.all([other, inWorker].map((client, i) => explainFailures(client, streams[i]?.failures ?? [])))
    assert.deepEqual(failed, [[], []])
    assert.ok(streams.every((s) => s.times.length > 20))
    // Process isolation keeps the worker clean: nothing was quarantined.
    assert.equal(json(await node.root.get(`/rest/v1/service/svcscripts/${runaway}`)).quarantined, undefined)
  })

  it('keeps another channel’s webhooks on the same worker quick while a script spins', async (t) => {
    const node = await startNode(t, { workers: 1 })
    const spin = await syncChannel(node.root, 'spin', 'while (true) {}', { recv_timeout: 3 })
    const echo = await syncChannel(node.root, 'echo', 'return startparam(4)')
    const quiet = await quietP99(node.url, echo, 1500)
    let spinning = true
    const spinner = (async () => {
      while (spinning) await postOnce(node.url, `/exec/${spin}`, {})
    })()
    await new Promise((resolve) => setTimeout(resolve, 300))
    const steady = stream(node.url, echo, 10)
    await new Promise((resolve) => setTimeout(resolve, 5000))
    await steady.stop()
    spinning = false
    await spinner
    assert.deepEqual(steady.failures, [])
    const p99 = percentile(steady.times, 99)
    t.diagnostic(
      `${steady.times.length} webhooks beside the spinning script: p99 ${p99.toFixed(1)} ms (${quiet.toFixed(1)} ms with a core taken, no script misbehaving)`,
    )
    // SPEC §13's 50 ms over what this machine takes with a core taken (behind the spinner, a webhook
    // would wait up to its 3 s recv_timeout).
    assert.ok(p99 <= 50 + quiet, `p99 ${p99.toFixed(1)} ms, ${quiet.toFixed(1)} ms with a core taken`)
  })

  it('keeps the quarantine across restarts, runs the script in a script host meanwhile, and releases it', async (t) => {
    const node = await startNode(t, { workers: 1, env: { SWITCHBOARD_SCRIPT_MEMORY_MB: '64' } })
    const runaway = await saveScript(node.root, 'runaway', RUNAWAY)
    await runScript(node.root, runaway, { timeout: 3000 })
    const before = json(await node.root.get(`/rest/v1/service/svcscripts/${runaway}`)).quarantined
    assert.ok(before, 'quarantined')
    assert.equal(await node.stop(), 0)

    const again = await startNode(t, { workers: 1, dataDir: node.dataDir, env: { SWITCHBOARD_SCRIPT_MEMORY_MB: '64' } })
    assert.deepEqual(json(await again.root.get(`/rest/v1/service/svcscripts/${runaway}`)).quarantined, before)
    // A quarantined version runs in a script host of its domain: its runaway costs only that host.
    const workers = [...again.workers().keys()]
    const answer = await runScript(again.root, runaway, { timeout: 3000 })
    assert.ok(['error', 'timeout'].includes(answer.status))
    assert.deepEqual([...again.workers().keys()], workers, 'the worker stayed')
    // Its hosts (the one it tainted, retiring, and its successor) run below the workers' priority.
    const hosts = [...childrenOf(workers[0] as number, 'script-host-main').keys()]
    assert.ok(hosts.length >= 1)
    assert.deepEqual(
      hosts.map(niceness),
      hosts.map(() => 10),
    )

    const released = await again.root.post(`/rest/v1/service/svcscripts/${runaway}/release`)
    assert.equal(released.status, 200)
    assert.equal(json(released).quarantined, undefined)
    assert.equal(json(await again.root.get(`/rest/v1/service/svcscripts/${runaway}`)).quarantined, undefined)
    // A new version of a script starts free.
    const fixed = await again.root.patch(`/rest/v1/service/svcscripts/${runaway}`, { source: 'return 1' })
    assert.equal(json(fixed).quarantined, undefined)
    assert.equal((await runScript(again.root, runaway)).variables.result, 1)
  })
})

describe('the process model (SPEC §13)', () => {
  it('loses no accepted job when a worker is killed (kill -9) under async load', async (t) => {
    const node = await startNode(t, { workers: 2 })
    await saveScript(node.root, 'count', 'return startparam(4).n')
    const channel = json(await node.root.post(CHANNELS, { code: 'later', type: 'public', recv_svcscriptcode: 'count' }))
    const token = channel.token_local as string
    const accepted: string[] = []
    let killed = false
    const send = async (from: number) => {
      for (let n = from; n < 400; n += 8) {
        try {
          const answer = await postOnce(node.url, `/exec/${token}`, { n })
          if (answer.status === 200) accepted.push(JSON.parse(answer.body).execution_id)
        } catch {
          // Refused while its worker died (never accepted): the sender would retry it.
        }
        if (!killed && accepted.length >= 100) {
          killed = true
          process.kill([...node.workers().keys()][0] as number, 'SIGKILL')
        }
      }
    }
    await Promise.all(Array.from({ length: 8 }, (_, i) => send(i)))
    assert.ok(killed && accepted.length > 300, `${accepted.length} accepted`)
    // Every accepted job runs: those the dead worker held go to the other one.
    await node.until(
      async () => {
        const reply = await node.root.get(`/rest/v1/service/executions?filter=${encodeURIComponent('{"status":"ok"}')}&limit=1`)
        return Number(reply.headers.get('x-total-count')) >= accepted.length
      },
      60_000,
      'every accepted job to run',
    )
    for (const id of accepted) {
      const execution = json(await node.root.get(`/rest/v1/service/executions/${id}`))
      assert.equal(execution.status, 'ok', id)
    }
  })

  it('loses no request of keep-alive clients while the workers are replaced', async (t) => {
    const node = await startNode(t, { workers: 2 })
    const echo = await syncChannel(node.root, 'echo', 'return startparam(4)')
    // Pooled connections, as most senders keep them: the one a client has just used is idle for
    // an instant when its worker begins to drain, and the next request goes out on it.
    const agent = new Agent({ keepAlive: true, maxSockets: 8 })
    t.after(() => agent.destroy())
    const failures: string[] = []
    let answered = 0
    let sending = true
    const post = (n: number) =>
      new Promise<void>((resolve) => {
        const payload = JSON.stringify({ n })
        const outgoing = request(
          `${node.url}/exec/${echo}`,
          { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': payload.length } },
          (response) => {
            response.resume()
            response.on('end', () => {
              if (response.statusCode === 200) answered++
              else failures.push(`HTTP ${response.statusCode}`)
              resolve()
            })
          },
        )
        outgoing.on('error', (error) => {
          failures.push(error.message)
          resolve()
        })
        outgoing.end(payload)
      })
    const senders = Array.from({ length: 8 }, async (_, i) => {
      for (let n = i; sending; n += 8) {
        await post(n)
        // A pause now and then, as real senders have: the connection waits in the pool.
        if (n % 5 === 0) await new Promise((resolve) => setTimeout(resolve, 5))
      }
    })
    try {
      const workers = [...node.workers().keys()]
      await new Promise((resolve) => setTimeout(resolve, 300))
      node.supervisor.kill('SIGHUP')
      await node.until(() => [...node.workers().keys()].every((pid) => !workers.includes(pid)), 30_000, 'new workers')
      await new Promise((resolve) => setTimeout(resolve, 1500))
    } finally {
      sending = false
      await Promise.all(senders)
    }
    assert.deepEqual(failures, [], `${answered} answered`)
    assert.ok(answered > 100, `${answered} answered`)
  })

  it('closes the websockets of a replaced worker with 1012; the clients reconnect to the node', async (t) => {
    const node = await startNode(t, { workers: 2 })
    const channel = json(await node.root.post(CHANNELS, { code: 'ws', type: 'public' }))
    const url = `${node.url.replace('http', 'ws')}/ws/token/v1/${channel.token_local}`
    const sockets = Array.from({ length: 6 }, () => new TestSocket(url))
    await Promise.all(sockets.map((socket) => socket.opened()))
    const workers = [...node.workers().keys()]
    // SIGHUP: every worker is replaced, one after the other.
    node.supervisor.kill('SIGHUP')
    const closes = await Promise.all(sockets.map((socket) => socket.closed))
    assert.deepEqual(
      closes.map((close) => close.code),
      sockets.map(() => 1012),
    )
    await node.until(() => [...node.workers().keys()].every((pid) => !workers.includes(pid)), 30_000, 'new workers')
    const again = Array.from({ length: 6 }, () => new TestSocket(url))
    t.after(() => {
      for (const socket of again) socket.socket.close()
    })
    await Promise.all(again.map((socket) => socket.opened()))
    for (const [i, socket] of again.entries()) {
      socket.send(['connection_info', { qid: i }])
      const [, info] = await socket.answer('connection_info_result', i)
      assert.equal(info.result, 'ok')
    }
  })

  it('answers /metrics for the whole node, whichever worker a scrape reaches', async (t) => {
    const node = await startNode(t, { workers: 2 })
    const echo = await syncChannel(node.root, 'echo', 'return startparam(4)')
    // Each on a connection of its own: both workers serve some.
    for (let n = 0; n < 40; n++) assert.equal((await postOnce(node.url, `/exec/${echo}`, { n })).status, 200)
    for (let scrape = 0; scrape < 6; scrape++) {
      const text = await new Promise<string>((resolve, reject) => {
        const url = new URL('/metrics', node.url)
        request(url, { agent: false }, (response) => {
          let body = ''
          response.on('data', (chunk) => {
            body += chunk
          })
          response.on('end', () => resolve(body))
        })
          .on('error', reject)
          .end()
      })
      const samples = parseMetrics(text)
      assert.equal(
        sample(samples, 'switchboard_executions_total', { domain: 'default', channel: 'echo', trigger: 'http', status: 'ok' }),
        40,
      )
      assert.equal(sample(samples, 'switchboard_info', { version: VERSION }), 1)
      const workers = [...node.workers().keys()].map((pid) => processRss(pid))
      assert.ok((sample(samples, 'process_resident_memory_bytes') ?? 0) > Math.max(...workers), 'both workers’ memory')
    }
  })

  it('restarts a worker that dies within 2 s', async (t) => {
    const node = await startNode(t, { workers: 2 })
    const [victim] = [...node.workers().keys()] as [number]
    const killedAt = performance.now()
    process.kill(victim, 'SIGKILL')
    await node.until(() => node.workers().size === 2 && !node.workers().has(victim), 2000, 'a new worker')
    t.diagnostic(`a new worker process ${Math.round(performance.now() - killedAt)} ms after the kill`)
    await node.until(async () => (await node.root.get('/healthz')).status === 200, 10_000, 'the node to answer')
  })
})

function processRss(pid: number): number {
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024
}
