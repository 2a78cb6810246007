import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { runScript, saveScript } from './support/scripts.ts'
import { json, startServer } from './support/server.ts'

/**
 * Each hostile script and how it may end: a timeout, or an error whose message says why. Which
 * limit strikes first (time or memory) depends on the machine's speed, so growth cases accept both.
 */
const HOSTILE: [string, string, ('timeout' | 'error' | 'ok')[], RegExp?][] = [
  ['spin', 'while (true) {}', ['timeout']],
  ['spin-after-await', 'await sleep(1)\nwhile (true) {}', ['timeout']],
  [
    'spin-in-microtasks',
    'const loop = () => Promise.resolve().then(loop)\nloop()\nawait new Promise(() => {})',
    ['timeout', 'error'],
    /memory/,
  ],
  ['never-settles', 'await new Promise(() => {})', ['timeout']],
  ['array-growth', 'const a = []\nwhile (true) a.push({ filler: "x".repeat(64) })', ['timeout', 'error'], /memory/],
  ['string-doubling', 'let s = "x"\nwhile (true) s += s', ['error'], /Invalid string length|memory/],
  ['recursion', 'const f = (n) => f(n + 1) + 1\nreturn f(0)', ['error'], /Maximum call stack/],
  ['promise-flood', 'const all = []\nfor (;;) all.push(new Promise(() => {}))', ['timeout', 'error'], /memory/],
  ['function-constructor', 'return this.constructor.constructor("return process")().pid', ['error'], /process is not defined/],
  ['require', 'return require("fs").readFileSync("/etc/passwd", "utf8")', ['error'], /require is not defined/],
  ['process', 'return process.env', ['error'], /process is not defined/],
  [
    'huge-result',
    'return "x".repeat(100 * 1024 * 1024)',
    ['timeout', 'error'],
    /output is \d+ characters|memory|Invalid string length/,
  ],
  [
    'oversized-result',
    'return "x".repeat(2 * 1024 * 1024)',
    ['error'],
    /output is 2097165 characters of JSON; the limit is 1048576/,
  ],
  // Not hostile, only noisy: it may finish (its log is bounded) or run out of time.
  ['log-flood', 'for (let i = 0; i < 100000; i++) log.info("x".repeat(5000))\nreturn "done"', ['timeout', 'ok']],
]

describe('hostile scripts end as timeout or error, and the server keeps serving', () => {
  it('contains each one within its timeout plus a small margin', async (t) => {
    const { root } = await startServer(t)
    const timeout = 1000
    for (const [code, source, expected, message] of HOSTILE) {
      const id = await saveScript(root, code, source)
      const started = performance.now()
      const answer = await runScript(root, id, { timeout })
      const elapsed = performance.now() - started
      assert.equal(answer.httpStatus, 200, `${code}: ${JSON.stringify(answer)}`)
      assert.ok(expected.includes(answer.status as 'ok'), `${code} ended as ${answer.status}: ${JSON.stringify(answer.error)}`)
      if (message && answer.status === 'error') assert.match(answer.error?.message ?? '', message, code)
      assert.ok(answer.logs.length <= 501, `${code} kept ${answer.logs.length} log lines`)
      assert.ok(elapsed < timeout + 1500, `${code} took ${Math.round(elapsed)} ms`)
    }
    // The host was never reached, and twenty normal executions right after all succeed.
    const normal = await saveScript(root, 'normal', 'return startparam(1) * 2')
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => runScript(root, normal, { startparams: [i] })))
    assert.deepEqual(
      answers.map((answer) => answer.variables.result),
      Array.from({ length: 20 }, (_, i) => i * 2),
    )
    assert.deepEqual(json(await root.get('/healthz')), { status: 'ok' })
  })

  it('cannot reach host objects through the API it was given', async (t) => {
    const { root } = await startServer(t)
    const probe = await saveScript(
      root,
      'probe',
      `const seen = {}
      for (const name of ['process', 'require', 'module', 'globalThis.$0', 'Buffer', 'fetch', 'setTimeout', 'queueMicrotask'])
        seen[name] = eval('typeof ' + name)
      seen.logKeys = Object.keys(log)
      seen.httpProto = Object.getPrototypeOf(http) === Object.prototype
      seen.ctor = typeof log.info.constructor('return this')().process
      return seen`,
    )
    const answer = await runScript(root, probe)
    assert.equal(answer.status, 'ok', JSON.stringify(answer.error))
    assert.deepEqual(answer.variables.result, {
      process: 'undefined',
      require: 'undefined',
      module: 'undefined',
      'globalThis.$0': 'undefined',
      Buffer: 'undefined',
      fetch: 'undefined',
      setTimeout: 'undefined',
      queueMicrotask: 'undefined',
      logKeys: ['debug', 'info', 'warn', 'error'],
      httpProto: true,
      ctor: 'undefined',
    })
  })

  for (const [form, spin] of [
    ['a loop', 'while (true) {}'],
    ['a loop after an await', 'await sleep(1)\nwhile (true) {}'],
  ] as const) {
    it(`keeps answering other scripts quickly while one spins in ${form}, even in the same host process`, async (t) => {
      const { root } = await startServer(t, { env: { SWITCHBOARD_SCRIPT_HOSTS: '1' } })
      const spinner = await saveScript(root, 'spinner', spin)
      const quick = await saveScript(root, 'quick', 'return 1')
      await runScript(root, quick)
      const baseline: number[] = []
      for (let i = 0; i < 10; i++) {
        const started = performance.now()
        await runScript(root, quick)
        baseline.push(performance.now() - started)
      }
      const spinning = runScript(root, spinner, { timeout: 3000 })
      await new Promise((resolve) => setTimeout(resolve, 200))
      const during: number[] = []
      for (let i = 0; i < 20; i++) {
        const started = performance.now()
        const answer = await runScript(root, quick)
        during.push(performance.now() - started)
        assert.equal(answer.variables.result, 1)
      }
      assert.equal((await spinning).status, 'timeout')
      const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number
      t.diagnostic(
        `quick script: median ${median(baseline).toFixed(1)} ms alone, ${median(during).toFixed(1)} ms while another spins`,
      )
      assert.ok(median(during) < 50, `median latency while spinning: ${median(during)} ms`)
    })
  }
})

/** Script host processes of this test process: pid → CPU seconds used so far. */
function scriptHosts(): Map<number, number> {
  const hosts = new Map<number, number>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (Number(fields[1]) !== process.pid) continue
      if (!readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('script-host-main')) continue
      hosts.set(Number(entry), (Number(fields[11]) + Number(fields[12])) / 100)
    } catch {
      // The process ended while we looked.
    }
  }
  return hosts
}

describe('an isolate V8 cannot stop', () => {
  it('takes only its script host process down; a fresh one takes its place', async (t) => {
    const { root } = await startServer(t, {
      env: { SWITCHBOARD_SCRIPT_HOSTS: '1', SWITCHBOARD_SCRIPT_MEMORY_MB: '64', SWITCHBOARD_SCRIPT_HOST_MEMORY_MB: '768' },
    })
    const warm = await saveScript(root, 'warm', 'return 1')
    await runScript(root, warm)
    const before = [...scriptHosts().keys()]
    assert.equal(before.length, 1)
    // Under Node 24's V8 this allocation pattern is not stopped at the heap limit: the isolate
    // keeps running after disposal (and worker_threads' resourceLimits do not stop it either).
    const runaway = await saveScript(root, 'runaway', 'const a = []\nwhile (true) a.push(new Array(1000).fill(1))')
    const answer = await runScript(root, runaway, { timeout: 1000 })
    assert.ok(['timeout', 'error'].includes(answer.status), answer.status)

    let hosts = scriptHosts()
    for (let i = 0; i < 300 && (hosts.has(before[0] as number) || hosts.size === 0); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      hosts = scriptHosts()
    }
    assert.equal(hosts.has(before[0] as number), false, 'the host with the runaway isolate is gone')
    assert.equal(hosts.size, 1, 'another host took its place')

    const normal = await saveScript(root, 'after', 'return startparam(1) + 1')
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => runScript(root, normal, { startparams: [i] })))
    assert.deepEqual(
      answers.map((a) => a.variables.result),
      Array.from({ length: 20 }, (_, i) => i + 1),
    )
    const [pid, cpu] = [...scriptHosts()][0] as [number, number]
    await new Promise((resolve) => setTimeout(resolve, 1000))
    assert.ok((scriptHosts().get(pid) ?? 0) - cpu < 0.5, 'the new host is not burning a core')
  })

  it('ends as a memory error, by the isolate limit or the cap of its host', async (t) => {
    const { root } = await startServer(t, {
      env: { SWITCHBOARD_SCRIPT_HOSTS: '1', SWITCHBOARD_SCRIPT_MEMORY_MB: '64', SWITCHBOARD_SCRIPT_HOST_MEMORY_MB: '384' },
    })
    const runaway = await saveScript(root, 'runaway', 'const a = []\nwhile (true) a.push(new Array(1000).fill(1))')
    const started = performance.now()
    const answer = await runScript(root, runaway, { timeout: 30_000 })
    assert.equal(answer.status, 'error')
    // Which one strikes depends on whether V8 manages to stop the isolate this time.
    assert.match(
      answer.error?.message ?? '',
      /^(the script ran out of memory \(limit 64 MB\)|the script host process stopped: it used \d+ MB of memory \(the cap is 384 MB\))$/,
    )
    assert.ok(performance.now() - started < 20_000)
    const normal = await saveScript(root, 'after', 'return 42')
    assert.equal((await runScript(root, normal)).variables.result, 42)
  })

  it('kills a host past its memory cap even when every isolate stays within its own limit', async (t) => {
    const { root } = await startServer(t, {
      env: { SWITCHBOARD_SCRIPT_HOSTS: '1', SWITCHBOARD_SCRIPT_MEMORY_MB: '1024', SWITCHBOARD_SCRIPT_HOST_MEMORY_MB: '256' },
    })
    const hog = await saveScript(
      root,
      'hog',
      'const a = []\nfor (let i = 0; i < 700; i++) { a.push(new Uint8Array(1 << 20).fill(i)); if (i % 5 === 0) await sleep(20) }\nreturn a.length',
    )
    const answer = await runScript(root, hog, { timeout: 30_000 })
    assert.equal(answer.status, 'error')
    assert.match(answer.error?.message ?? '', /^the script host process stopped: it used \d+ MB of memory \(the cap is 256 MB\)$/)
    const normal = await saveScript(root, 'after', 'return 42')
    assert.equal((await runScript(root, normal)).variables.result, 42)
  })
})
