import { CLIENT_HELP, clientOf, parseCommand, positionals, print, printJson, usageError } from './options.ts'

const CHANNELS = '/rest/v1/service/integration_points'

const CHANNELS_HELP = `Usage: switchboard channels <list|get|create|rotate-token> [options]

  channels list                 the domain's channels: code, type, mode, scripts
  channels get <code>           one channel, as JSON (its token_local included)
  channels create <code>        a new channel; prints its token_local
      --type <type>             public (default), eventing, or a solution-defined type
      --sync                    webhooks wait for the script's answer (opts.issync); default: async
      --script <code>           recv_svcscriptcode: the script that answers webhooks
      --ws-script <code>        recv_svcscriptcode_ws: the script that answers websocket messages
      --send-script <code>      send_svcscriptcode: the script channels.send runs
      --remote-url <url>        url: the external system's base URL
      --title <text>            opts.title
  channels rotate-token <code>  a new token_local; the old one stops working at once

${CLIENT_HELP}`

const CREATE_OPTIONS = {
  type: { type: 'string' },
  sync: { type: 'boolean' },
  script: { type: 'string' },
  'ws-script': { type: 'string' },
  'send-script': { type: 'string' },
  'remote-url': { type: 'string' },
  title: { type: 'string' },
} as const

/** `switchboard channels …` */
export async function channels(args: readonly string[]): Promise<number> {
  const [sub, ...rest] = args
  if (sub === undefined) {
    // No command: the help, as a usage mistake (stderr, exit code 2).
    process.stderr.write(CHANNELS_HELP)
    return 2
  }
  if (sub === 'help' || sub === '--help' || sub === '-h') {
    print(CHANNELS_HELP)
    return 0
  }
  if (sub === 'create') return create(rest)
  if (sub !== 'list' && sub !== 'get' && sub !== 'rotate-token') {
    throw usageError(`unknown channels command '${sub}'`, 'channels')
  }
  const { values, positionals: given } = parseCommand(rest, {}, 'channels')
  if (values.help) {
    print(CHANNELS_HELP)
    return 0
  }
  const api = clientOf(values)
  const json = values.json === true
  switch (sub) {
    case 'list': {
      positionals(given, [], 'channels')
      const all = await api.list(CHANNELS, { order: 'code' })
      if (json) printJson(all)
      else print(table(all))
      return 0
    }
    case 'get': {
      const [code] = positionals(given, ['<code>'], 'channels') as [string]
      printJson(await api.byCode(CHANNELS, 'channel', code))
      return 0
    }
    case 'rotate-token': {
      const [code] = positionals(given, ['<code>'], 'channels') as [string]
      const channel = await api.byCode(CHANNELS, 'channel', code)
      const rotated = (await api.call('PATCH', `${CHANNELS}/${String(channel.id)}`, { token_local: null })) as Record<
        string,
        unknown
      >
      if (json) printJson(rotated)
      else print(`new token_local of ${code}: ${String(rotated.token_local)}`)
      return 0
    }
  }
}

async function create(args: readonly string[]): Promise<number> {
  const { values, positionals: given } = parseCommand(args, CREATE_OPTIONS, 'channels')
  if (values.help) {
    print(CHANNELS_HELP)
    return 0
  }
  const [code] = positionals(given, ['<code>'], 'channels') as [string]
  const opts: Record<string, unknown> = { issync: values.sync === true }
  if (values.title !== undefined) opts.title = values.title
  const body = {
    code,
    type: values.type ?? 'public',
    ...(values.script !== undefined && { recv_svcscriptcode: values.script }),
    ...(values['ws-script'] !== undefined && { recv_svcscriptcode_ws: values['ws-script'] }),
    ...(values['send-script'] !== undefined && { send_svcscriptcode: values['send-script'] }),
    ...(values['remote-url'] !== undefined && { url: values['remote-url'] }),
    opts,
  }
  const created = (await clientOf(values).call('POST', CHANNELS, body)) as Record<string, unknown>
  if (values.json) printJson(created)
  else print(`created channel ${code} (${String(created.id)})\ntoken_local: ${String(created.token_local)}`)
  return 0
}

/** Channels as an aligned text table. */
function table(rows: readonly Record<string, unknown>[]): string {
  if (rows.length === 0) return 'no channels'
  const columns = ['code', 'type', 'mode', 'webhook script', 'ws script', 'url']
  const cells = rows.map((row) => {
    const opts = (row.opts ?? {}) as { issync?: boolean }
    const dash = (value: unknown) => (typeof value === 'string' && value !== '' ? value : '-')
    return [
      String(row.code),
      String(row.type),
      opts.issync ? 'sync' : 'async',
      dash(row.recv_svcscriptcode),
      dash(row.recv_svcscriptcode_ws),
      dash(row.url),
    ]
  })
  const widths = columns.map((column, i) => Math.max(column.length, ...cells.map((row) => (row[i] as string).length)))
  const line = (values: readonly string[]) =>
    values
      .map((value, i) => value.padEnd(widths[i] as number))
      .join('  ')
      .trimEnd()
  return [line(columns), ...cells.map(line)].join('\n')
}
