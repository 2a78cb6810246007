import { readFileSync } from 'node:fs'
import { CliError, exchange } from './api-client.ts'
import { type Command, choice, runCommand, text, texts, usageError } from './command.ts'
import { emit } from './output.ts'

const CHANNELS = '/rest/v1/service/integration_points'
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const
/** The header naming the execution that made a webhook's answer. */
const EXECUTION_HEADER = 'switchboard-execution-id'

export const EXEC_COMMAND: Command = {
  args: ['<channel-code>'],
  summary: 'send the channel a test webhook, as an external system would, and print the answer',
  details: `It sends the request to /exec with the channel's token and prints the answer's body; the
status, the request id and the execution id go to stderr (the execution record has the same
request_id). Exits 0 for a 2xx answer, 1 otherwise.

  -d, --data <body>             the body: text, @<file> for a file's content, - for stdin; default none
  -t, --content-type <type>     the body's Content-Type (default application/json)
  -X, --method <method>         ${METHODS.join(', ')} (default POST)
  -p, --path </sub/path?query>  the sub-path after /exec (startparam(3), request.path, request.query)
  -H, --header <'name: value'>  an extra request header (repeatable)

With --output json, prints {status, request_id, execution_id, headers, body} (body parsed when
it is JSON); --field execution_id prints the execution's id alone.`,
  options: {
    data: { type: 'string', short: 'd' },
    'content-type': { type: 'string', short: 't' },
    method: { type: 'string', short: 'X' },
    path: { type: 'string', short: 'p' },
    header: { type: 'string', short: 'H', multiple: true },
  },
  async run({ api, args, values, output, name }) {
    const [code] = args as [string]
    const method = choice('--method', (text(values, 'method') ?? 'POST').toUpperCase(), METHODS, name)
    const path = text(values, 'path') ?? ''
    if (path !== '' && !path.startsWith('/') && !path.startsWith('?'))
      throw usageError(`--path ${path}: must start with / or ?`, name)
    const headers: Record<string, string> = {}
    for (const header of texts(values, 'header')) {
      const colon = header.indexOf(':')
      if (colon < 1) throw usageError(`--header '${header}': use 'name: value'`, name)
      headers[header.slice(0, colon).trim().toLowerCase()] = header.slice(colon + 1).trim()
    }
    const data = text(values, 'data')
    const body = data === undefined ? undefined : readBody(data)
    if (body !== undefined) headers['content-type'] ??= text(values, 'content-type') ?? 'application/json'

    const client = api()
    const channel = await client.byKey(CHANNELS, 'channel', 'code', code)
    const reply = await exchange(`${client.url}/exec${path}`, {
      method,
      headers: { ...headers, authorization: `Bearer ${String(channel.token_local)}` },
      ...(body !== undefined && method !== 'GET' && { body }),
    })
    const requestId = reply.headers.get('x-request-id')
    const executionId = reply.headers.get(EXECUTION_HEADER) ?? (reply.body as { execution_id?: string } | undefined)?.execution_id
    const answer = {
      status: reply.status,
      request_id: requestId,
      execution_id: executionId ?? null,
      headers: Object.fromEntries(reply.headers),
      body: reply.body === undefined ? reply.text : reply.body,
    }
    if (!output.json && output.field === undefined) {
      const ids = [`request ${requestId ?? 'without an id'}`, ...(executionId ? [`execution ${executionId}`] : [])]
      process.stderr.write(`${reply.status} (${ids.join(', ')})\n`)
    }
    emit(output, answer, () => reply.text)
    return reply.status >= 200 && reply.status < 300 ? 0 : 1
  },
}

/** `switchboard exec <channel-code>` */
export function exec(args: readonly string[]): Promise<number> {
  return runCommand('exec', EXEC_COMMAND, args)
}

function readBody(data: string): Buffer | string {
  if (data === '-') return readFileSync(0)
  if (!data.startsWith('@')) return data
  try {
    return readFileSync(data.slice(1))
  } catch (error) {
    throw new CliError(`--data ${data}: ${(error as Error).message}`)
  }
}
