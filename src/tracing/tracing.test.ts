import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { registerHooks } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { carried, carrierOfHeaders, traceIdOf } from './tracing.ts'

// Every OpenTelemetry package this process loads, but the API: prom-client requires that one itself.
const loaded = new Set<string>()
registerHooks({
  resolve(specifier, context, next) {
    const resolved = next(specifier, context)
    const found = /\/node_modules\/(@opentelemetry\/[^/]+)\//.exec(resolved.url)
    if (found?.[1] && found[1] !== '@opentelemetry/api') loaded.add(found[1])
    return resolved
  },
})

async function startAndClose(env: Record<string, string>): Promise<void> {
  // Imported here, after the hook: the app's imports are seen.
  const { createApp } = await import('../app.ts')
  const { loadConfig } = await import('../config.ts')
  const dataDir = mkdtempSync(join(tmpdir(), 'switchboard-tracing-'))
  try {
    const config = { ...loadConfig({ SWITCHBOARD_LOG_LEVEL: 'silent', ...env }), dataDir, port: 0 }
    const app = await createApp(config)
    await app.listen()
    await app.close()
  } finally {
    rmSync(dataDir, { recursive: true, force: true })
  }
}

describe('tracing', () => {
  // Run in this order: a module once loaded stays loaded.
  it('loads nothing of the OpenTelemetry SDK in a server without an OTLP endpoint', async () => {
    await startAndClose({})
    assert.deepEqual([...loaded], [])
  })

  it('loads the SDK, and only then, when an endpoint is set', async () => {
    await startAndClose({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1' })
    for (const name of ['@opentelemetry/sdk-trace', '@opentelemetry/exporter-trace-otlp-proto', '@opentelemetry/resources']) {
      assert.ok(loaded.has(name), `${name} was not loaded: ${[...loaded].join(', ')}`)
    }
  })

  it('reads trace contexts from headers and keeps them as plain data', () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
    assert.deepEqual(carrierOfHeaders({ traceparent, tracestate: ['a=1', 'b=2'] }), { traceparent, tracestate: 'a=1,b=2' })
    assert.equal(carrierOfHeaders({ traceparent: [traceparent, traceparent] }), undefined)
    assert.equal(carrierOfHeaders({}), undefined)
    assert.deepEqual(carried({ traceparent, tracestate: '' }), { traceparent })
    assert.equal(traceIdOf({ traceparent }), '0af7651916cd43dd8448eb211c80319c')
    assert.equal(traceIdOf({ traceparent: 'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }), undefined)
    assert.equal(traceIdOf(undefined), undefined)
  })
})
