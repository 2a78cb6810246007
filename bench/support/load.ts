import autocannon from 'autocannon'

export interface LoadOptions {
  readonly url: string
  readonly method?: 'GET' | 'POST'
  readonly headers?: Record<string, string>
  /** A body per request (unique values for creates); omitted for GET. */
  readonly body?: () => string
  readonly connections?: number
  readonly seconds?: number
}

export interface LoadResult {
  readonly requestsPerSecond: number
  /** Server CPU time per request (user + system): steadier than req/s on a shared machine. */
  readonly cpuMicrosPerRequest: number
  readonly p50: number
  readonly p99: number
  readonly errors: number
  readonly non2xx: number
}

/** One autocannon run against `server`; the load generator runs in this process, the server in another. */
export async function load(server: { cpuMicros(): number }, options: LoadOptions): Promise<LoadResult> {
  const { url, method = 'GET', headers = {}, body, connections = 50, seconds = 5 } = options
  const cpuBefore = server.cpuMicros()
  const result = await autocannon({
    url,
    connections,
    duration: seconds,
    method,
    headers,
    ...(body && {
      requests: [
        {
          method,
          headers: { ...headers, 'content-type': 'application/json' },
          setupRequest: (request) => ({ ...request, body: body() }),
        },
      ],
    }),
  })
  const cpu = server.cpuMicros() - cpuBefore
  return {
    requestsPerSecond: result.requests.average,
    cpuMicrosPerRequest: result.requests.total > 0 ? cpu / result.requests.total : 0,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  }
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

export interface Comparison {
  readonly name: string
  readonly baseline: LoadResult[]
  readonly subject: LoadResult[]
}

/** Runs baseline and subject in alternating rounds (so drift on a shared machine hits both), after a warm-up each. */
export async function compare(
  name: string,
  rounds: number,
  seconds: number,
  baseline: (seconds: number) => Promise<LoadResult>,
  subject: (seconds: number) => Promise<LoadResult>,
): Promise<Comparison> {
  await baseline(2)
  await subject(2)
  const comparison: Comparison = { name, baseline: [], subject: [] }
  for (let round = 0; round < rounds; round++) {
    comparison.baseline.push(await baseline(seconds))
    comparison.subject.push(await subject(seconds))
  }
  return comparison
}

export function report(comparisons: readonly Comparison[], labels: { baseline: string; subject: string }): string {
  const lines = [
    `| measurement | ${labels.baseline} req/s | p50 ms | p99 ms | CPU µs/req | ${labels.subject} req/s | p50 ms | p99 ms | CPU µs/req | ratio (req/s) |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ]
  for (const { name, baseline, subject } of comparisons) {
    const b = median(baseline.map((r) => r.requestsPerSecond))
    const s = median(subject.map((r) => r.requestsPerSecond))
    const cells = [
      name,
      b.toFixed(0),
      median(baseline.map((r) => r.p50)).toFixed(1),
      median(baseline.map((r) => r.p99)).toFixed(1),
      median(baseline.map((r) => r.cpuMicrosPerRequest)).toFixed(0),
      s.toFixed(0),
      median(subject.map((r) => r.p50)).toFixed(1),
      median(subject.map((r) => r.p99)).toFixed(1),
      median(subject.map((r) => r.cpuMicrosPerRequest)).toFixed(0),
      `${((100 * s) / b).toFixed(0)} %`,
    ]
    lines.push(`| ${cells.join(' | ')} |`)
    const failures = [...baseline, ...subject].reduce((sum, r) => sum + r.errors + r.non2xx, 0)
    if (failures > 0) lines.push(`|   (${name}: ${failures} errors or non-2xx answers) |`)
  }
  return lines.join('\n')
}
