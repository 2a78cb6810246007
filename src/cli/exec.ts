import { readFileSync } from 'node:fs'
import { CliError, exchange } from './api-client.ts'
import { CLIENT_HELP, clientOf, parseCommand, positionals, print, printJson, usageError } from './options.ts'

const CHANNELS = '/rest/v1/service/integration_points'

const EXEC_HELP = `Usage: switchboard exec <channel-code> [options]

Sends the channel a test webhook (to /exec with its token, as an external system would) and
prints the answer's body; the status and the request id go to stderr (the execution record has
the same request_id). Exits 0 for a 2xx answer, 1 otherwise.

  -d, --data <body>             the body: text, @<file> for a file's content, - for stdin; default none
  -t, --content-type <type>     the body's Content-Type (default application/json)
  -X, --method <method>         GET, POST (default), PUT, PATCH, DELETE
  -p, --path </sub/path?query>  the sub-path after /exec (startparam(3), request.path, request.query)
  -H, --header <'name: value'>  an extra request header (repeatable)

With --json, prints {status, request_id, headers, body} (body parsed when it is JSON).

${CLIENT_HELP}`

const OPTIONS = {
  data: { type: 'string', short: 'd' },
  'content-type': { type: 'string', short: 't' },
  method: { type: 'string', short: 'X' },
  path: { type: 'string', short: 'p' },
  header: { type: 'string', short: 'H', multiple: true },
} as const

/** `switchboard exec <channel-code>` */
export async function exec(args: readonly string[]): Promise<number> {
  const { values, positionals: given } = parseCommand(args, OPTIONS, 'exec')
  if (values.help) {
    print(EXEC_HELP)
    return 0
  }
  const [code] = positionals(given, ['<channel-code>'], 'exec') as [string]
  const method = (values.method ?? 'POST').toUpperCase()
  if (!['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].includes(method))
    throw usageError(`--method ${method}: not a webhook method`, 'exec')
  const path = values.path ?? ''
  if (path !== '' && !path.startsWith('/') && !path.startsWith('?')) throw usageError('--path must start with / or ?', 'exec')
  const headers: Record<string, string> = {}
  for (const header of values.header ?? []) {
    const colon = header.indexOf(':')
    if (colon < 1) throw usageError(`--header '${header}': use 'name: value'`, 'exec')
    headers[header.slice(0, colon).trim().toLowerCase()] = header.slice(colon + 1).trim()
  }
  const body = values.data === undefined ? undefined : readBody(values.data)
  if (body !== undefined) headers['content-type'] ??= values['content-type'] ?? 'application/json'

  const api = clientOf(values)
  const channel = await api.byCode(CHANNELS, 'channel', code)
  const reply = await exchange(`${api.url}/exec${path}`, {
    method,
    headers: { ...headers, authorization: `Bearer ${String(channel.token_local)}` },
    ...(body !== undefined && method !== 'GET' && { body }),
  })
  const requestId = reply.headers.get('x-request-id')
  if (values.json) {
    printJson({
      status: reply.status,
      request_id: requestId,
      headers: Object.fromEntries(reply.headers),
      body: reply.body === undefined ? reply.text : reply.body,
    })
  } else {
    process.stderr.write(`${reply.status} (request ${requestId ?? 'without an id'})\n`)
    if (reply.text !== '') print(reply.text)
  }
  return reply.status >= 200 && reply.status < 300 ? 0 : 1
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
