// Script execution throughput: a small JSON transform (parse a 1 KB body, total 12 items,
// answer JSON) run warm in isolates of this process, as a worker runs scripts (one isolate per
// script version), and through a script host process (process isolation), next to the same
// function called directly in Node, in one run; and the first execution of a changed script.
//   bin/bench scripts            (BENCH_ROUNDS, BENCH_SECONDS, BENCH_CONCURRENCY)
import { availableParallelism } from 'node:os'
import { sleepModule } from '../src/scripts/api/sleep-module.ts'
import { ScriptHosts } from '../src/scripts/host/script-hosts.ts'
import type { ExecutionScope } from '../src/scripts/runtime/host-api.ts'
import { runInput, ScriptRuntime } from '../src/scripts/runtime/script-runtime.ts'
import type { ScriptRunner } from '../src/scripts/script-runner.ts'
import { median } from './support/load.ts'
import { ORDER_JSON, type Order, transform, transformSource } from './support/order.ts'

const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const seconds = Number(process.env.BENCH_SECONDS ?? 3)
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 64)

const body = ORDER_JSON
const SOURCE = transformSource('JSON.parse(startparam(1))')
const direct = (text: string) => transform(JSON.parse(text) as Order)

const scope: ExecutionScope = {
  executionId: 'bench',
  domainId: 'bench',
  channel: null,
  scriptCode: 'bench',
  depth: 0,
  requestId: null,
  logLevel: 'info',
  signal: new AbortController().signal,
  log: () => {},
}
const input = runInput({ startparams: [body], request: null, channel: null })

/** Executions per second for `seconds`, `concurrency` at a time. */
async function throughput(run: () => Promise<unknown>, duration: number): Promise<number> {
  const end = performance.now() + duration * 1000
  let done = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        await run()
        done++
      }
    }),
  )
  return done / duration
}

function directRate(duration: number): number {
  const end = performance.now() + duration * 1000
  let done = 0
  while (performance.now() < end) {
    for (let i = 0; i < 1000; i++) JSON.stringify({ result: direct(body) })
    done += 1000
  }
  return done / duration
}

async function check(runner: ScriptRunner): Promise<void> {
  const result = await runner.run({ id: 's', lang: 'js', source: SOURCE }, scope, input, 5000)
  if (result.kind !== 'ok' || (result.output.result as { total: number }).total !== direct(body).total) {
    throw new Error(`the script does not compute the same: ${JSON.stringify(result)}`)
  }
}

const hosts = ScriptHosts.start({
  hosts: 1,
  label: 'bench',
  hostMemoryCapMb: 2048,
  settings: {
    memoryMb: 128,
    cpuLimitMs: 5000,
    maxIsolates: 64,
    maxInFlightPerIsolate: 64,
    maxQueuedPerScript: 10_000,
    egressAllow: [],
    httpTimeoutMs: 10_000,
    httpMaxResponseBytes: 5 << 20,
    httpMaxRequestBytes: 5 << 20,
    maxOutputChars: 1 << 20,
    maxLogLineChars: 4096,
    maxLogLines: 500,
    maxLogChars: 65536,
    wasm: false,
  },
  remoteModules: [],
  onError: (error, where) => console.error('script hosts:', where, error),
})
const engine = new ScriptRuntime({
  memoryMb: 128,
  cpuLimitMs: 5000,
  maxIsolates: 64,
  maxHeapBytes: 1 << 30,
  // As a worker runs them (app.ts): one isolate per script version, the workers are the cores.
  isolatesPerScript: 1,
  maxInFlightPerIsolate: 64,
  maxQueuedPerScript: 10_000,
  modules: [sleepModule],
  limits: { maxOutputChars: 1 << 20, maxLogLineChars: 4096, maxLogLines: 500, maxLogChars: 64 * 1024 },
  wasm: false,
  onError: (error) => console.error('script runtime:', error),
})
try {
  const script = { id: 's', lang: 'js' as const, source: SOURCE }
  await check(hosts)
  await check(engine)
  // Warm-up: every host and isolate has the script compiled and optimised.
  await throughput(() => hosts.run(script, scope, input, 5000), 1)
  await throughput(() => engine.run(script, scope, input, 5000), 1)
  directRate(1)

  const rates = { direct: [] as number[], hosts: [] as number[], engine: [] as number[] }
  for (let round = 0; round < rounds; round++) {
    rates.direct.push(directRate(seconds))
    rates.hosts.push(await throughput(() => hosts.run(script, scope, input, 5000), seconds))
    rates.engine.push(await throughput(() => engine.run(script, scope, input, 5000), seconds))
  }

  // First run of a changed script: a new version each time, on an otherwise idle runner.
  const firsts: number[] = []
  for (let i = 0; i < 20; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    const started = performance.now()
    const result = await engine.run({ id: 's', lang: 'js', source: `${SOURCE}\n// version ${i}` }, scope, input, 5000)
    firsts.push(performance.now() - started)
    if (result.kind !== 'ok') throw new Error(`version ${i}: ${JSON.stringify(result)}`)
  }

  const direct = median(rates.direct)
  const line = (name: string, rate: number) => `| ${name} | ${rate.toFixed(0)} | ${((100 * rate) / direct).toFixed(1)} % |`
  process.stdout.write(
    `Script executions, ${concurrency} at a time, median of ${rounds} rounds of ${seconds} s (Node ${process.version}, ${availableParallelism()} cores)\n\n` +
      '| runner | executions/s | of direct |\n|---|---:|---:|\n' +
      `${line('direct call in Node (no sandbox)', direct)}\n` +
      `${line('in a worker (isolates of this process, worker isolation)', median(rates.engine))}\n` +
      `${line('through a script host process (process isolation)', median(rates.hosts))}\n\n` +
      `First execution after a script change (in a worker): median ${median(firsts).toFixed(2)} ms, max ${Math.max(...firsts).toFixed(2)} ms\n`,
  )
} finally {
  await hosts.close()
  await engine.close()
}
