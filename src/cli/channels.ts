import { assignments, type Group, type Invocation, runGroup, text, texts, usageError, type Values, whole } from './command.ts'
import { cell, emit, emitList, table } from './output.ts'

const CHANNELS = '/rest/v1/service/integration_points'

type Entity = Record<string, unknown>

/** The flags that set a channel's fields, for create and update. */
const FIELD_OPTIONS = {
  type: { type: 'string' },
  sync: { type: 'boolean' },
  async: { type: 'boolean' },
  script: { type: 'string' },
  'ws-script': { type: 'string' },
  'send-script': { type: 'string' },
  'ws-send-script': { type: 'string' },
  'remote-url': { type: 'string' },
  timeout: { type: 'string' },
  title: { type: 'string' },
  comment: { type: 'string' },
  set: { type: 'string', multiple: true },
} as const

const FIELD_HELP = `  --type <type>             public, eventing, or a solution-defined type
  --sync, --async           webhooks wait for the script's answer, or are answered at once (opts.issync)
  --script <code>           recv_svcscriptcode: the script that answers webhooks ('' for none)
  --ws-script <code>        recv_svcscriptcode_ws: the script that answers websocket messages
  --send-script <code>      send_svcscriptcode: the script channels.send runs
  --ws-send-script <code>   send_svcscriptcode_ws: the script that reshapes pushes
  --remote-url <url>        url: the external system's base URL
  --timeout <seconds>       opts.recv_timeout: 0 to 60 (0: the server's default, 10 s)
  --title <text>            opts.title
  --comment <text>          opts.comment
  --set <field>=<value>     any other field, by its path: --set 'ipmask=["203.0.113.0/24"]',
                            --set opts.allow_files_api=true, --set opts.comment=null (a JSON value,
                            else the text; repeatable)`

/** The body fields the flags set: only those given. */
function fieldsOf(values: Values, command: string): Entity {
  const body: Entity = assignments(texts(values, 'set'), command)
  const opts: Entity = { ...((body.opts as Entity | undefined) ?? {}) }
  if (values.sync === true && values.async === true) throw usageError('--sync and --async: give one', command)
  if (values.sync === true) opts.issync = true
  if (values.async === true) opts.issync = false
  const timeout = text(values, 'timeout')
  if (timeout !== undefined) opts.recv_timeout = whole('--timeout', timeout, 0, 60, command, ' of seconds')
  const title = text(values, 'title')
  if (title !== undefined) opts.title = title
  const comment = text(values, 'comment')
  if (comment !== undefined) opts.comment = comment
  const fields: Readonly<Record<string, string>> = {
    type: 'type',
    script: 'recv_svcscriptcode',
    'ws-script': 'recv_svcscriptcode_ws',
    'send-script': 'send_svcscriptcode',
    'ws-send-script': 'send_svcscriptcode_ws',
    'remote-url': 'url',
  }
  for (const [flag, field] of Object.entries(fields)) {
    const value = text(values, flag)
    if (value !== undefined) body[field] = value
  }
  if (Object.keys(opts).length > 0) body.opts = opts
  return body
}

async function byCode(invocation: Invocation): Promise<Entity> {
  return invocation.api().byKey(CHANNELS, 'channel', 'code', invocation.args[0] as string)
}

export const CHANNELS_GROUP: Group = {
  name: 'channels',
  intro: "The domain's channels (integration points), addressed by their code.",
  aliases: { 'rotate-token': 'rotate' },
  commands: {
    list: {
      summary: "the domain's channels: code, type, mode, scripts, url",
      details:
        '  --type <type>             only channels of this type\n\nWith --output json, the entities (token_local included).',
      options: { type: { type: 'string' } },
      async run({ api, values, output }) {
        const type = text(values, 'type')
        const all = await api().list(CHANNELS, { order: 'code', ...(type !== undefined && { filter: JSON.stringify({ type }) }) })
        emitList(output, all, () => channelTable(all))
        return 0
      },
    },
    get: {
      args: ['<code>'],
      summary: 'one channel, as JSON (its token_local included)',
      details: 'Prints the entity as JSON; --field prints one of its fields: --field token_local.',
      async run(invocation) {
        const channel = await byCode(invocation)
        emit(invocation.output, channel, () => JSON.stringify(channel, null, 2))
        return 0
      },
    },
    create: {
      args: ['<code>'],
      summary: 'a new channel; prints its token_local',
      details: `Without --type it is public; without --sync it is async.\n\n${FIELD_HELP}`,
      options: FIELD_OPTIONS,
      async run({ api, values, args, output, name }) {
        const [code] = args as [string]
        const fields = fieldsOf(values, name)
        const opts = { issync: false, ...((fields.opts as Entity | undefined) ?? {}) }
        const created = (await api().call('POST', CHANNELS, { code, type: 'public', ...fields, opts })) as Entity
        emit(
          output,
          created,
          () => `created channel ${code} (${String(created.id)})\ntoken_local: ${String(created.token_local)}`,
        )
        return 0
      },
    },
    update: {
      args: ['<code>'],
      summary: 'change a channel: only the fields given (opts merge key by key)',
      details: `  --code <code>             a new code\n${FIELD_HELP}`,
      options: { ...FIELD_OPTIONS, code: { type: 'string' } },
      async run(invocation) {
        const { values, output, name } = invocation
        const fields = fieldsOf(values, name)
        const code = text(values, 'code')
        if (code !== undefined) fields.code = code
        if (Object.keys(fields).length === 0) throw usageError('nothing to change: give a flag such as --title or --set', name)
        const channel = await byCode(invocation)
        const updated = (await invocation.api().call('PATCH', `${CHANNELS}/${String(channel.id)}`, fields)) as Entity
        emit(output, updated, () => `updated channel ${String(updated.code)}: ${Object.keys(fields).join(', ')}`)
        return 0
      },
    },
    delete: {
      args: ['<code>'],
      summary: 'delete a channel; its token stops working at once',
      async run(invocation) {
        const channel = await byCode(invocation)
        const deleted = (await invocation.api().call('DELETE', `${CHANNELS}/${String(channel.id)}`)) as Entity
        emit(invocation.output, deleted, () => `deleted channel ${String(deleted.code)} (${String(deleted.id)})`)
        return 0
      },
    },
    rotate: {
      args: ['<code>'],
      summary: 'a new token_local; the old one stops working at once',
      async run(invocation) {
        const channel = await byCode(invocation)
        const rotated = (await invocation
          .api()
          .call('PATCH', `${CHANNELS}/${String(channel.id)}`, { token_local: null })) as Entity
        emit(invocation.output, rotated, () => `new token_local of ${String(rotated.code)}: ${String(rotated.token_local)}`)
        return 0
      },
    },
  },
}

/** `switchboard channels …` */
export function channels(args: readonly string[]): Promise<number> {
  return runGroup(CHANNELS_GROUP, args)
}

function channelTable(rows: readonly Entity[]): string {
  return table(
    ['code', 'type', 'mode', 'webhook script', 'ws script', 'url'],
    rows.map((row) => {
      const opts = (row.opts ?? {}) as { issync?: boolean }
      return [
        String(row.code),
        String(row.type),
        opts.issync ? 'sync' : 'async',
        cell(row.recv_svcscriptcode),
        cell(row.recv_svcscriptcode_ws),
        cell(row.url),
      ]
    }),
    'no channels',
  )
}
