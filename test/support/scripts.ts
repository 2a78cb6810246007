import type { Client } from './server.ts'
import { json, SCRIPTS } from './server.ts'

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
