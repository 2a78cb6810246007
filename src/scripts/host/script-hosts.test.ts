import assert from 'node:assert/strict'
import { it } from 'node:test'
import type { ExecutionScope } from '../runtime/host-api.ts'
import { ScriptHosts } from './script-hosts.ts'

it('fails a run whose input cannot cross to a script host, and keeps serving', async (t) => {
  const hosts = ScriptHosts.start({
    hosts: 1,
    label: 'test',
    hostMemoryCapMb: 1024,
    remoteModules: [],
    settings: {
      memoryMb: 64,
      cpuLimitMs: 5000,
      maxIsolates: 8,
      maxInFlightPerIsolate: 8,
      maxQueuedPerScript: 100,
      egressAllow: [],
      httpTimeoutMs: 1000,
      httpMaxResponseBytes: 1 << 20,
      httpMaxRequestBytes: 1 << 20,
      maxOutputChars: 1 << 20,
      maxLogLineChars: 1000,
      maxLogLines: 100,
      maxLogChars: 10_000,
      wasm: false,
    },
  })
  t.after(() => hosts.close())
  const scope: ExecutionScope = {
    executionId: 'e',
    domainId: 'd',
    channel: null,
    scriptCode: 's',
    depth: 0,
    requestId: null,
    logLevel: 'info',
    signal: new AbortController().signal,
    log: () => {},
  }
  const script = { id: 's', lang: 'js' as const, source: 'return startparam(1)' }
  let deep: unknown = 1
  for (let i = 0; i < 100_000; i++) deep = [deep]
  const [refused, fine] = await Promise.all([
    hosts.run(script, scope, { startparams: [deep], request: null, channel: null }, 2000),
    hosts.run(script, scope, { startparams: [7], request: null, channel: null }, 2000),
  ])
  assert.equal(refused.kind, 'error')
  assert.match(
    refused.kind === 'error' ? refused.message : '',
    /the run's input is not valid: it cannot be sent to a script host/,
  )
  assert.deepEqual(fine, { kind: 'ok', output: { result: 7 } })
})
