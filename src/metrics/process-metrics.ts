import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { Registry } from 'prom-client'
import { counter, gauge } from './metric-families.ts'

/** The event loop delay monitor's interval; its samples include it, so it is taken off. */
const SAMPLE_MS = 10
const lateBy = (nanoseconds: number) => Math.max(0, nanoseconds / 1e6 - SAMPLE_MS) / 1000

/**
 * The process's own numbers, under the names Prometheus's client libraries use. Not prom-client's
 * `collectDefaultMetrics`: it starts a GC observer and an event loop monitor that nothing stops,
 * once per call, and tests build many apps in one process.
 */
export function processMetrics(registry: Registry): { close(): void } {
  const delay = monitorEventLoopDelay({ resolution: SAMPLE_MS })
  delay.enable()
  const cpu = counter(registry, {
    name: 'process_cpu_seconds_total',
    help: 'User and system CPU time of the node’s workers (the supervisor and script host processes not included)',
    collect: () => {
      const used = process.cpuUsage()
      cpu.series().value = (used.user + used.system) / 1e6
    },
  })
  const resident = gauge(registry, {
    name: 'process_resident_memory_bytes',
    help: 'Resident memory of the node’s workers, added up',
    collect: () => {
      resident.series().value = process.memoryUsage.rss()
    },
  })
  gauge(registry, {
    name: 'process_start_time_seconds',
    help: 'When this process (the oldest worker of the node) started, seconds since the epoch',
    aggregator: 'min',
  })
    .series()
    .inc(Math.round(Date.now() / 1000 - process.uptime()))
  const heap = gauge(registry, {
    name: 'nodejs_heap_used_bytes',
    help: 'V8 heap in use in the node’s workers, added up',
    collect: () => {
      heap.series().value = process.memoryUsage().heapUsed
    },
  })
  const lag = gauge(registry, {
    name: 'nodejs_eventloop_delay_seconds',
    help: 'How late the event loop ran a timer, since the last scrape, by quantile (0.5, 0.99, 1 = the latest); the worst worker’s',
    labelNames: ['quantile'],
    aggregator: 'max',
    collect: () => {
      lag.series('0.5').value = lateBy(delay.percentile(50))
      lag.series('0.99').value = lateBy(delay.percentile(99))
      lag.series('1').value = lateBy(delay.max)
      delay.reset()
    },
  })
  return { close: () => delay.disable() }
}
