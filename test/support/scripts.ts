import type { Client } from './server.ts'
import { json, jsonArray, SCRIPTS } from './server.ts'

export interface RunAnswer {
  readonly execution_id: string
  readonly status: string
  readonly variables: Record<string, unknown>
  readonly logs: { ms: number; level: string; text: string }[]
  readonly error: { message: string; line?: number; column?: number } | null
  readonly duration_ms: number
}

/** Saves a script and answers its id. */
export async function saveScript(
  client: Client,
  code: string,
  source: string,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const reply = await client.post(SCRIPTS, { code, source, ...extra })
  if (reply.status !== 200) throw new Error(`saving ${code}: ${reply.status} ${reply.text}`)
  return json(reply).id as string
}

/** Runs a saved script through the test-run endpoint. */
export async function runScript(
  client: Client,
  id: string,
  body: Record<string, unknown> = {},
): Promise<RunAnswer & { httpStatus: number; requestId: string | null }> {
  const reply = await client.post(`${SCRIPTS}/${id}/run`, body)
  return { ...(reply.body as RunAnswer), httpStatus: reply.status, requestId: reply.headers.get('x-request-id') }
}

/**
 * The executions `filter` matches once there are at least `count` (records are written in batches
 * just after the answer), or those there are after two seconds.
 */
export async function recordedExecutions(
  client: Client,
  filter: Record<string, unknown>,
  count: number,
): Promise<Record<string, unknown>[]> {
  for (let i = 0; ; i++) {
    const reply = await client.get(`/rest/v1/service/executions?filter=${encodeURIComponent(JSON.stringify(filter))}&limit=1000`)
    const found = jsonArray(reply)
    if (found.length >= count || i === 100) return found
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
