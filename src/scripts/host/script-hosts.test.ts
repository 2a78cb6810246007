import assert from 'node:assert/strict'
import { it } from 'node:test'
import type { ExecutionScope } from '../runtime/host-api.ts'
import { runInput } from '../runtime/script-runtime.ts'
import { ScriptHosts } from './script-hosts.ts'

it('fails a host call whose answer cannot cross to a script host, and keeps serving', async (t) => {
  let deep: unknown = 1
  for (let i = 0; i < 100_000; i++) deep = [deep]
  const errors: unknown[] = []
  const hosts = ScriptHosts.start({
    hosts: 1,
    label: 'test',
    onError: (error) => errors.push(error),
    hostMemoryCapMb: 1024,
    // A module of the worker whose answer nests too deep for the IPC channel's JSON.
    remoteModules: [{ name: 'deep', guest: `(call) => ({ get: () => call('get') })`, functions: { get: { run: () => deep } } }],
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
  t.after(async () => {
    await hosts.close()
    assert.deepEqual(errors, [], 'the hosts reported no failure of their own')
  })
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
  const script = {
    id: 's',
    lang: 'js' as const,
    source: 'try { await deep.get() } catch (e) { return e.message }\nreturn startparam(1)',
  }
  const [refused, fine] = await Promise.all([
    hosts.run(script, scope, runInput({ startparams: [1], request: null, channel: null }), 2000),
    hosts.run(
      { id: 't', lang: 'js', source: 'return startparam(1)' },
      scope,
      runInput({ startparams: [7], request: null, channel: null }),
      2000,
    ),
  ])
  assert.deepEqual(refused.kind === 'ok' && refused.output, {
    result: 'the answer is not valid: it cannot be sent to a script host: Maximum call stack size exceeded',
  })
  assert.equal(fine.kind === 'ok' && fine.outputJson, '{"result":7}')
})
