import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Registry } from 'prom-client'
import { ExecutionMetrics, MAX_CHANNEL_LABELS } from './metrics.ts'

describe('execution metrics', () => {
  it('label executions with their channel, and count channels past the cap as other', async () => {
    const registry = new Registry()
    const metrics = new ExecutionMetrics(registry, (id) => (id === 'd1' ? 'shop' : undefined))
    for (let n = 0; n < MAX_CHANNEL_LABELS + 5; n++) metrics.finished('d1', `c${n}`, 'http', 'ok', 0.01)
    metrics.finished('d1', 'c0', 'http', 'error', 0.2)
    metrics.finished('d1', `c${MAX_CHANNEL_LABELS + 1}`, 'http', 'error', 0.2)
    metrics.finished('d1', '', 'svcscript', 'ok', 0.01)
    const total = (await registry.getSingleMetric('switchboard_executions_total')?.get())?.values ?? []
    const count = (labels: Record<string, string>) =>
      total.find((value) => Object.entries(labels).every(([key, wanted]) => value.labels[key] === wanted))?.value
    assert.equal(count({ domain: 'shop', channel: 'c0', trigger: 'http', status: 'ok' }), 1)
    assert.equal(count({ domain: 'shop', channel: 'c0', trigger: 'http', status: 'error' }), 1)
    assert.equal(count({ domain: 'shop', channel: `c${MAX_CHANNEL_LABELS - 1}`, status: 'ok' }), 1)
    assert.equal(count({ channel: `c${MAX_CHANNEL_LABELS}` }), undefined, 'past the cap: no series of its own')
    assert.equal(count({ domain: 'shop', channel: 'other', trigger: 'http', status: 'ok' }), 5)
    assert.equal(count({ domain: 'shop', channel: 'other', trigger: 'http', status: 'error' }), 1)
    assert.equal(count({ domain: 'shop', channel: '', trigger: 'svcscript', status: 'ok' }), 1, 'no channel')
    const channels = new Set(total.map((value) => value.labels.channel))
    assert.equal(channels.size, MAX_CHANNEL_LABELS + 2, 'the cap, other and none')
    const durations = (await registry.getSingleMetric('switchboard_execution_duration_seconds')?.get())?.values ?? []
    const otherCount = durations.find(
      (value) =>
        (value as { metricName?: string }).metricName === 'switchboard_execution_duration_seconds_count' &&
        value.labels.channel === 'other',
    )
    assert.equal(otherCount?.value, 6)
  })
})
