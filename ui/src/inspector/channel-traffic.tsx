import { useEffect, useRef } from 'preact/hooks'
import uPlot from 'uplot'
import { useResource } from '../app/use-resource.ts'
import { Loaded } from '../components/states.tsx'
import 'uplot/dist/uPlot.min.css'
import { PATHS, request } from '../api/client.ts'

/** The window the traffic covers, and the width of one bar. */
const HOUR_MS = 3_600_000
const BUCKET_MS = 5 * 60_000

export interface Traffic {
  readonly requests: number
  readonly errors: number
  /** ms; null while no execution has ended. */
  readonly p95: number | null
  /** Bucket starts (s), requests and errors per bucket. */
  readonly series: [number[], number[], number[]]
}

/** What `GET …/executions/traffic` answers (one channel of it). */
interface ChannelTraffic {
  readonly channel_id: string
  readonly requests: number
  readonly errors: number
  readonly p95_ms: number | null
  readonly minutes: readonly { readonly minute: string; readonly requests: number; readonly errors: number }[]
}

/**
 * Requests, errors and p95 latency of the last hour, per channel id: the server counts every
 * execution of the hour per minute; the chart folds the minutes into 5-minute bars.
 */
export async function trafficByChannel(channelId?: string): Promise<Map<string, Traffic>> {
  const now = Date.now()
  const since = new Date(now - HOUR_MS).toISOString()
  const query = new URLSearchParams({ since, until: new Date(now).toISOString(), ...(channelId && { channel_id: channelId }) })
  const { channels } = await request<{ channels: ChannelTraffic[] }>('GET', `${PATHS.executions}/traffic?${query}`)
  const first = Math.floor((now - HOUR_MS) / BUCKET_MS) * BUCKET_MS
  const buckets = Math.ceil((now - first) / BUCKET_MS)
  const out = new Map<string, Traffic>()
  for (const channel of channels) {
    const times = Array.from({ length: buckets }, (_, i) => (first + i * BUCKET_MS) / 1000)
    const requests = new Array<number>(buckets).fill(0)
    const errors = new Array<number>(buckets).fill(0)
    for (const minute of channel.minutes) {
      const at = Math.min(buckets - 1, Math.max(0, Math.floor((Date.parse(minute.minute) - first) / BUCKET_MS)))
      requests[at] = (requests[at] ?? 0) + minute.requests
      errors[at] = (errors[at] ?? 0) + minute.errors
    }
    out.set(channel.channel_id, {
      requests: channel.requests,
      errors: channel.errors,
      p95: channel.p95_ms,
      series: [times, requests, errors],
    })
  }
  return out
}

/** A channel's last hour at a glance: the numbers, and a small uPlot chart of requests and errors. */
export function TrafficCell({ traffic, label }: { traffic: Traffic | undefined; label: string }) {
  if (!traffic) return <span class="sub">No traffic in the last hour</span>
  const rate = traffic.requests === 0 ? 0 : Math.round((traffic.errors / traffic.requests) * 100)
  return (
    <div class="traffic">
      <TrafficChart series={traffic.series} label={label} />
      <span class="numbers">
        {traffic.requests} req ·{' '}
        <span class={traffic.errors > 0 ? 'errors' : ''}>
          {traffic.errors} err ({rate} %)
        </span>{' '}
        · p95 {traffic.p95 === null ? '—' : `${Math.round(traffic.p95)} ms`}
      </span>
    </div>
  )
}

function TrafficChart({ series, label }: { series: Traffic['series']; label: string }) {
  const box = useRef<HTMLDivElement>(null)
  useEffect(() => {
    if (!box.current) return
    const style = getComputedStyle(document.documentElement)
    const color = (name: string) => style.getPropertyValue(name).trim() || '#888'
    const bars = uPlot.paths.bars?.({ size: [0.8, 8] })
    const plot = new uPlot(
      {
        width: 140,
        height: 36,
        legend: { show: false },
        cursor: { show: false },
        axes: [{ show: false }, { show: false }],
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
        series: [
          {},
          { stroke: color('--accent'), fill: color('--accent'), ...(bars && { paths: bars }), points: { show: false } },
          { stroke: color('--bad'), fill: color('--bad'), ...(bars && { paths: bars }), points: { show: false } },
        ],
      },
      series,
      box.current,
    )
    return () => plot.destroy()
  }, [series])
  return <div ref={box} class="traffic-chart" role="img" aria-label={label} />
}

/** The channel page's traffic: its last hour. */
export function ChannelTrafficPanel({ channelId }: { channelId: string }) {
  const traffic = useResource(() => trafficByChannel(channelId), [channelId])
  return (
    <section class="panel" aria-labelledby="traffic-title">
      <h2 id="traffic-title">Last hour</h2>
      <Loaded resource={traffic}>
        {(found) => <TrafficCell traffic={found.get(channelId)} label="Requests and errors of the last hour, in 5-minute bars" />}
      </Loaded>
    </section>
  )
}
