import { transformSource } from './order.ts'

/** The root key of every benchmarked Switchboard. */
export const BENCH_KEY = 'bench-root-key-0123456789abcdef'

/** What the benches use: one channel to read, two that run the webhook bench's transform (sync and async), a websocket echo and one whose token uses the files API. */
export interface BenchEntities {
  readonly channelId: string
  readonly syncToken: string
  readonly asyncToken: string
  readonly wsToken: string
  readonly filesToken: string
}

export async function createBenchEntities(url: string): Promise<BenchEntities> {
  const post = async (path: string, body: unknown): Promise<Record<string, unknown>> => {
    const response = await fetch(`${url}/rest/v1/service/${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${BENCH_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    if (response.status !== 200) throw new Error(`POST ${path}: ${response.status} ${await response.text()}`)
    return (await response.json()) as Record<string, unknown>
  }
  const channel = await post('integration_points', { code: 'bench', type: 'public' })
  await post('svcscripts', { code: 'transform', source: transformSource('startparam(4)') })
  const hook = (code: string, issync: boolean) =>
    post('integration_points', { code, type: 'public', recv_svcscriptcode: 'transform', opts: { issync } })
  const sync = await hook('sync-hook', true)
  await post('svcscripts', { code: 'echo', source: 'return startparam(2)' })
  const ws = await post('integration_points', { code: 'ws-echo', type: 'public', recv_svcscriptcode_ws: 'echo' })
  const queued = await hook('async-hook', false)
  const files = await post('integration_points', { code: 'files', type: 'public', opts: { allow_files_api: true } })
  return {
    channelId: channel.id as string,
    syncToken: sync.token_local as string,
    asyncToken: queued.token_local as string,
    wsToken: ws.token_local as string,
    filesToken: files.token_local as string,
  }
}
