import assert from 'node:assert/strict'
import { availableParallelism } from 'node:os'
import { describe, it } from 'node:test'
import { loadClientConfig, loadConfig } from './config.ts'

describe('configuration', () => {
  it('has the defaults of SPEC §1', () => {
    const config = loadConfig({})
    assert.equal(config.host, '127.0.0.1')
    assert.equal(config.port, 8080)
    assert.match(config.dataDir, /\/data$/)
    assert.equal(config.adminKey, undefined)
    assert.equal(config.databaseUrl, undefined)
    assert.equal(config.license, undefined)
    assert.equal(config.scriptMemoryMb, 128)
    assert.equal(config.logLevel, 'info')
    assert.deepEqual(config.trustProxy, [])
    assert.equal(config.metricsToken, undefined)
    assert.equal(config.shutdownTimeoutMs, 15_000)
    assert.equal(config.workers, availableParallelism())
    assert.equal(config.scriptIsolation, 'worker')
    assert.equal(config.scriptWasm, false)
  })

  it('reads every variable', () => {
    const config = loadConfig({
      SWITCHBOARD_HOST: '0.0.0.0',
      SWITCHBOARD_PORT: '9000',
      SWITCHBOARD_DATA_DIR: '/var/lib/switchboard',
      SWITCHBOARD_ADMIN_KEY: 'a-long-enough-root-key',
      SWITCHBOARD_DATABASE_URL: 'postgres://u@db/sb',
      SWITCHBOARD_TRUST_PROXY: '10.0.0.0/8, ::1',
      SWITCHBOARD_EGRESS_ALLOW: '192.168.1.0/24',
      SWITCHBOARD_LICENSE: '{"public": 10, "eventing": 0}',
      SWITCHBOARD_SCRIPT_MEMORY_MB: '64',
      SWITCHBOARD_LOG_LEVEL: 'debug',
      SWITCHBOARD_FILES_MAX_BYTES: '1048576',
      SWITCHBOARD_TEMP_LINK_SECONDS: '60',
      SWITCHBOARD_METRICS_TOKEN: 'a-long-enough-scrape-token',
      SWITCHBOARD_SHUTDOWN_TIMEOUT_MS: '2500',
      SWITCHBOARD_DATABASE_SCHEMA: 'switchboard_prod',
      SWITCHBOARD_WORKERS: '6',
      SWITCHBOARD_WORKER_MEMORY_MB: '1024',
      SWITCHBOARD_SCRIPT_ISOLATION: 'process',
      SWITCHBOARD_SCRIPT_WASM: '1',
    })
    assert.equal(config.port, 9000)
    assert.equal(config.databaseSchema, 'switchboard_prod')
    assert.equal(config.workers, 6)
    assert.equal(config.workerMemoryMb, 1024)
    assert.equal(config.scriptIsolation, 'process')
    assert.equal(config.scriptWasm, true)
    assert.equal(config.dataDir, '/var/lib/switchboard')
    assert.deepEqual(config.trustProxy, ['10.0.0.0/8', '::1'])
    assert.deepEqual(config.license, { public: 10, eventing: 0 })
    assert.equal(config.scriptMemoryMb, 64)
    assert.equal(config.logLevel, 'debug')
    assert.equal(config.filesMaxBytes, 1 << 20)
    assert.equal(config.tempLinkMs, 60_000)
    assert.equal(config.metricsToken, 'a-long-enough-scrape-token')
    assert.equal(config.shutdownTimeoutMs, 2500)
  })

  it('refuses bad values with a message naming the variable', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ SWITCHBOARD_PORT: 'eighty' }, /SWITCHBOARD_PORT must be an integer/],
      [{ SWITCHBOARD_PORT: '70000' }, /SWITCHBOARD_PORT/],
      [{ SWITCHBOARD_ADMIN_KEY: 'short' }, /at least 16/],
      [{ SWITCHBOARD_DATABASE_URL: 'mysql://x' }, /SWITCHBOARD_DATABASE_URL must start with postgres:\/\//],
      [{ SWITCHBOARD_TRUST_PROXY: '10.0.0.0/40' }, /SWITCHBOARD_TRUST_PROXY: .*prefix length/],
      [{ SWITCHBOARD_LICENSE: '{public: 1}' }, /JSON object/],
      [{ SWITCHBOARD_LICENSE: '{"public": -1}' }, /non-negative integer/],
      [{ SWITCHBOARD_LICENSE: '[1]' }, /JSON object/],
      [{ SWITCHBOARD_LOG_LEVEL: 'loud' }, /one of fatal/],
      [{ SWITCHBOARD_TEMP_LINK_SECONDS: '0' }, /SWITCHBOARD_TEMP_LINK_SECONDS must be an integer from 1 to 86400/],
      [{ SWITCHBOARD_METRICS_TOKEN: 'short' }, /SWITCHBOARD_METRICS_TOKEN must be at least 16/],
      [{ SWITCHBOARD_METRICS_TOKEN: 'sixteen chars or more' }, /SWITCHBOARD_METRICS_TOKEN must be visible ASCII without spaces/],
      [{ SWITCHBOARD_ADMIN_KEY: 'clé-0123456789abcdef' }, /SWITCHBOARD_ADMIN_KEY must be visible ASCII without spaces/],
      [{ SWITCHBOARD_SHUTDOWN_TIMEOUT_MS: '-1' }, /SWITCHBOARD_SHUTDOWN_TIMEOUT_MS must be an integer from 0 to 600000/],
      [{ SWITCHBOARD_WORKERS: '0' }, /SWITCHBOARD_WORKERS must be an integer from 1 to 256/],
      [{ SWITCHBOARD_SCRIPT_ISOLATION: 'thread' }, /SWITCHBOARD_SCRIPT_ISOLATION must be one of worker, process/],
      [{ SWITCHBOARD_SCRIPT_WASM: 'yes' }, /SWITCHBOARD_SCRIPT_WASM must be 1 or 0/],
      [{ SWITCHBOARD_DATABASE_SCHEMA: 'Public' }, /SWITCHBOARD_DATABASE_SCHEMA must be/],
    ]
    for (const [env, message] of cases) assert.throws(() => loadConfig(env), { name: 'ConfigError', message })
  })

  it('traces only when an OTLP endpoint is set, and reads the standard OTEL_* variables', () => {
    assert.equal(loadConfig({}).tracing, undefined)
    assert.deepEqual(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).tracing, {
      url: 'http://collector:4318/v1/traces',
      protocol: 'http/protobuf',
      sampler: 'parentbased_always_on',
      samplerRatio: 1,
      batch: { scheduledDelayMillis: 5000, exportTimeoutMillis: 30_000, maxQueueSize: 2048, maxExportBatchSize: 512 },
    })
    // The traces endpoint is used as it is, and wins over the base one.
    const traces = loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://tempo.example/otlp/v1/traces',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
      OTEL_BSP_SCHEDULE_DELAY: '200',
      OTEL_BSP_EXPORT_TIMEOUT: '5000',
      OTEL_BSP_MAX_QUEUE_SIZE: '100',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '50',
    }).tracing
    assert.deepEqual(traces, {
      url: 'https://tempo.example/otlp/v1/traces',
      protocol: 'http/json',
      sampler: 'parentbased_traceidratio',
      samplerRatio: 0.25,
      batch: { scheduledDelayMillis: 200, exportTimeoutMillis: 5000, maxQueueSize: 100, maxExportBatchSize: 50 },
    })
    assert.equal(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/base' }).tracing?.url, 'http://c:4318/base/v1/traces')
    // Turned off all the same by the standard switches.
    assert.equal(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'TRUE' }).tracing, undefined)
    assert.equal(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' }).tracing, undefined)
    assert.equal(
      loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'otlp' }).tracing?.url,
      'http://c:4318/v1/traces',
    )
    // Without an endpoint the other variables change nothing.
    assert.equal(loadConfig({ OTEL_TRACES_SAMPLER: 'always_off', OTEL_SERVICE_NAME: 'x' }).tracing, undefined)
  })

  it('refuses OTEL_* values the SDK would ignore with a warning', () => {
    const on = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }
    const cases: [Record<string, string>, RegExp][] = [
      [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, /OTEL_EXPORTER_OTLP_ENDPOINT must start with http:\/\/ or https:\/\//],
      [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'nowhere' }, /OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is not a URL/],
      [
        { ...on, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' },
        /OTEL_EXPORTER_OTLP_PROTOCOL must be http\/protobuf or http\/json, got 'grpc' \(gRPC is not supported/,
      ],
      [
        { ...on, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'json' },
        /OTEL_EXPORTER_OTLP_TRACES_PROTOCOL must be http\/protobuf or http\/json/,
      ],
      [{ ...on, OTEL_TRACES_EXPORTER: 'zipkin' }, /OTEL_TRACES_EXPORTER must be otlp or none/],
      [{ ...on, OTEL_TRACES_SAMPLER: 'jaeger_remote' }, /OTEL_TRACES_SAMPLER must be one of always_on, always_off, traceidratio/],
      [
        { ...on, OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1.5' },
        /OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1/,
      ],
      [{ ...on, OTEL_BSP_SCHEDULE_DELAY: 'soon' }, /OTEL_BSP_SCHEDULE_DELAY must be an integer/],
      [{ ...on, OTEL_BSP_MAX_QUEUE_SIZE: '10', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '20' }, /must not exceed OTEL_BSP_MAX_QUEUE_SIZE/],
    ]
    for (const [env, message] of cases) assert.throws(() => loadConfig(env), { name: 'ConfigError', message })
  })

  it('gives the command line its server, key and domain: flags first, then the environment', () => {
    assert.deepEqual(loadClientConfig({}, {}), { url: 'http://127.0.0.1:8080', key: undefined, domain: undefined })
    assert.deepEqual(
      loadClientConfig({}, { SWITCHBOARD_ADMIN_KEY: 'root-key-0123456789abcdef' }).key,
      'root-key-0123456789abcdef',
    )
    const env = {
      SWITCHBOARD_URL: 'https://sb.example/',
      SWITCHBOARD_KEY: 'sbk_env',
      SWITCHBOARD_ADMIN_KEY: 'root',
      SWITCHBOARD_DOMAIN: 'acme',
    }
    assert.deepEqual(loadClientConfig({}, env), { url: 'https://sb.example', key: 'sbk_env', domain: 'acme' })
    assert.deepEqual(loadClientConfig({ url: 'http://10.0.0.2:9000', key: 'sbk_flag', domain: 'other' }, env), {
      url: 'http://10.0.0.2:9000',
      key: 'sbk_flag',
      domain: 'other',
    })
    assert.throws(() => loadClientConfig({ url: 'ftp://x' }, {}), {
      name: 'ConfigError',
      message: /--url must start with http:\/\/ or https:\/\//,
    })
    assert.throws(() => loadClientConfig({}, { SWITCHBOARD_URL: 'nowhere' }), {
      name: 'ConfigError',
      message: 'SWITCHBOARD_URL nowhere is not a URL: did you mean http://nowhere?',
    })
    for (const address of ['127.0.0.1:8080', 'localhost:8080', '[::1]:8080']) {
      assert.throws(() => loadClientConfig({ url: address }, {}), {
        name: 'ConfigError',
        message: `--url ${address} is not a URL: did you mean http://${address}?`,
      })
    }
  })
})
