import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Registry } from 'prom-client'
import { counter, gauge, histogram } from './metric-families.ts'

describe('metric families', () => {
  it('render counters, gauges and histograms in the Prometheus text format', async () => {
    const registry = new Registry()
    const requests = counter(registry, { name: 'requests_total', help: 'Requests', labelNames: ['route', 'status'] })
    const ok = requests.series('/a', '200')
    ok.inc()
    ok.inc(2)
    requests.series('/a', '404').value++
    assert.equal(requests.series('/a', '200'), ok, 'the same label values give the same series')
    let sampled = 7
    const open = gauge(registry, {
      name: 'open',
      help: 'Open now',
      collect: () => {
        open.series().value = sampled
      },
    })
    const durations = histogram(registry, {
      name: 'duration_seconds',
      help: 'Durations',
      labelNames: ['route'],
      buckets: [0.1, 1],
    })
    const a = durations.series('/a')
    for (const value of [0.05, 0.1, 0.5, 3]) a.observe(value)

    assert.equal(
      await registry.metrics(),
      [
        '# HELP requests_total Requests',
        '# TYPE requests_total counter',
        'requests_total{route="/a",status="200"} 3',
        'requests_total{route="/a",status="404"} 1',
        '',
        '# HELP open Open now',
        '# TYPE open gauge',
        'open 7',
        '',
        '# HELP duration_seconds Durations',
        '# TYPE duration_seconds histogram',
        'duration_seconds_bucket{route="/a",le="0.1"} 2',
        'duration_seconds_bucket{route="/a",le="1"} 3',
        'duration_seconds_bucket{route="/a",le="+Inf"} 4',
        'duration_seconds_sum{route="/a"} 3.65',
        'duration_seconds_count{route="/a"} 4',
        '',
      ].join('\n'),
    )
    sampled = 2
    assert.match(await registry.metrics(), /^open 2$/m, 'collect runs at every scrape')
  })

  it('escapes label values and refuses wrong label counts and unordered buckets', async () => {
    const registry = new Registry()
    const family = counter(registry, { name: 'c_total', help: 'c', labelNames: ['domain'] })
    family.series('a "quoted"\nname').inc()
    assert.match(await registry.metrics(), /^c_total\{domain="a \\"quoted\\"\\nname"\} 1$/m)
    assert.throws(() => family.series(), /c_total takes 1 label values, got 0/)
    assert.throws(() => histogram(registry, { name: 'h', help: 'h', buckets: [1, 0.5] }), /h: buckets must ascend/)
  })
})
