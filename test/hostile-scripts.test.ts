import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { startNode } from './support/node.ts'
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
    // A real node: a runaway isolate taints its worker, which the supervisor replaces (SPEC §13).
    const { root } = await startNode(t, { workers: 1 })
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
      // Ended by its timeout: the CPU limit (5 s by default) would have ended it later.
      assert.ok(elapsed < 5000, `${code} took ${Math.round(elapsed)} ms`)
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
    it(`keeps answering other scripts quickly while one spins in ${form}, in the same worker`, async (t) => {
      const { root } = await startNode(t, { workers: 1 })
      const spinner = await saveScript(root, 'spinner', spin)
      const quick = await saveScript(root, 'quick', 'return 1')
      await runScript(root, quick)
      const baseline: number[] = []
      for (let i = 0; i < 10; i++) {
        const started = performance.now()
        await runScript(root, quick)
        baseline.push(performance.now() - started)
      }
      let spun = false
      const spinning = runScript(root, spinner, { timeout: 3000 }).finally(() => {
        spun = true
      })
      await new Promise((resolve) => setTimeout(resolve, 200))
      // Quick runs one after another for as long as the spinner spins. Quickly means answered
      // meanwhile: a run that waited for the spinner would end only after it, and count for nothing.
      const during: number[] = []
      while (!spun) {
        const started = performance.now()
        const answer = await runScript(root, quick)
        if (!spun) during.push(performance.now() - started)
        assert.equal(answer.variables.result, 1)
      }
      assert.equal((await spinning).status, 'timeout')
      assert.ok(during.length >= 5, `${during.length} quick runs were answered while the spinner ran`)
      const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number
      t.diagnostic(
        `quick script: median ${median(baseline).toFixed(1)} ms alone, ${median(during).toFixed(1)} ms while another spins`,
      )
    })
  }
})
