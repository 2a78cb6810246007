import { setTimeout as sleep } from 'node:timers/promises'
import { STATUSES, TRIGGERS } from '../executions/execution-schemas.ts'
import { type ApiClient, CliError, describeError } from './api-client.ts'
import { choice, type Group, type Invocation, runGroup, text, usageError, type Values, whole } from './command.ts'
import { emit, emitList, print } from './output.ts'

const EXECUTIONS = '/rest/v1/service/executions'
const CHANNELS = '/rest/v1/service/integration_points'
/** The fields a line needs: the list stays small even with big inputs and outputs. */
const MASK = 'id,channel_id,script_code,trigger,status,started_at,duration_ms,error,request_id'
/** Executions read per poll (the newest). */
const POLL_LIMIT = 500
/** Ids remembered to print each execution once per status; the oldest are forgotten first. */
const REMEMBERED = 20_000
/** Records are written in batches a few ms after a run ends: get and replay wait this long for one. */
const RECORD_WAIT_MS = 2000
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
/** How much of an input or output the text view shows. */
const PREVIEW_CHARS = 1000

type Execution = Record<string, unknown> & { id: string; status: string; started_at: string }

const FILTER_OPTIONS = {
  lines: { type: 'string', short: 'n' },
  channel: { type: 'string' },
  script: { type: 'string' },
  status: { type: 'string' },
  trigger: { type: 'string' },
} as const

const FILTER_HELP = `  -n, --lines <n>           how many of the latest (default 10, at most ${POLL_LIMIT})
  --channel <code>          only this channel's executions
  --script <code>           only this script's
  --status <status>         only these: ${STATUSES.join(', ')}
  --trigger <trigger>       only these: ${TRIGGERS.join(', ')}`

const LINE_HELP = `One line each, oldest first:
  <started_at> <status> <trigger> <channel> <script> <duration> <execution id> [<error>]`

export const EXECUTIONS_GROUP: Group = {
  name: 'executions',
  intro: 'The recorded runs of scripts: every webhook, websocket message, send, event and replay.',
  commands: {
    list: {
      summary: 'the latest executions',
      details: `${LINE_HELP}\n\n${FILTER_HELP}\n\nWith --output json, an array of them (the fields of the line).`,
      options: FILTER_OPTIONS,
      async run(invocation) {
        const view = await executionView(invocation)
        const latest = (await view.latest()).slice(-view.count)
        const names = await view.channelNames(latest)
        emitList(invocation.output, latest, () =>
          latest.length === 0 ? 'no executions' : latest.map((execution) => line(execution, names)).join('\n'),
        )
        return 0
      },
    },
    get: {
      args: ['<id>'],
      summary: 'one execution: status, input, output, error and its log',
      details: 'With --output json, the whole record.',
      async run(invocation) {
        const execution = await recorded(invocation.api(), idOf(invocation))
        const names = await channelNamesOf(invocation.api(), [execution])
        emit(invocation.output, execution, () => describe(execution, names))
        return 0
      },
    },
    replay: {
      args: ['<id>'],
      summary: 'run the input of an execution again, through the current script; prints the new execution',
      details: `A webhook runs through its channel's current webhook script, anything else through the current
version of the script it ran. It waits for the run, whatever the channel's mode. Exit code 0 when
the new execution ended ok, 1 otherwise.`,
      async run(invocation) {
        const api = invocation.api()
        const id = idOf(invocation)
        await recorded(api, id)
        const execution = (await api.call('POST', `${EXECUTIONS}/${id}/replay`)) as Execution
        const names = await channelNamesOf(api, [execution])
        emit(invocation.output, execution, () => describe(execution, names))
        return execution.status === 'ok' ? 0 : 1
      },
    },
    tail: {
      summary: 'follow executions as they are recorded',
      details: `Prints the latest executions, then follows new ones as they are recorded (polling
GET ${EXECUTIONS}?order=-started_at). ${LINE_HELP}
A queued async run is printed again when it ends. Ctrl-C (or SIGTERM) stops it (exit 0).

${FILTER_HELP}
  --interval <ms>           how often to look (default 1000)
  --no-follow               print the latest and stop (as list does)

With --output json, one JSON object per line (the fields of the line).`,
      options: { ...FILTER_OPTIONS, interval: { type: 'string' }, 'no-follow': { type: 'boolean' } },
      run: tail,
    },
  },
}

/** `switchboard executions …` */
export function executions(args: readonly string[]): Promise<number> {
  return runGroup(EXECUTIONS_GROUP, args)
}

async function tail(invocation: Invocation): Promise<number> {
  const { values, output } = invocation
  const interval = whole('--interval', text(values, 'interval') ?? '1000', 50, 3_600_000, invocation.name)
  const view = await executionView(invocation)
  const seen = new Map<string, string>()
  let names = new Map<string, string>()
  const show = (execution: Execution) => {
    seen.delete(execution.id)
    seen.set(execution.id, execution.status)
    if (seen.size > REMEMBERED) seen.delete(seen.keys().next().value as string)
    // One JSON object per line, so each can be read as it comes.
    if (output.json && output.field === undefined) print(JSON.stringify(execution))
    else emit(output, execution, () => line(execution, names))
  }
  const first = await view.latest()
  const shown = first.slice(Math.max(0, first.length - view.count))
  names = await view.channelNames(shown)
  for (const execution of shown) show(execution)
  for (const execution of first) if (!seen.has(execution.id)) seen.set(execution.id, execution.status)
  if (values['no-follow'] === true) return 0

  const stop = new AbortController()
  process.once('SIGINT', () => stop.abort())
  process.once('SIGTERM', () => stop.abort())
  while (!stop.signal.aborted) {
    try {
      await sleep(interval, undefined, { signal: stop.signal })
    } catch {
      break
    }
    const page = await view.latest()
    const fresh = page.filter((execution) => seen.get(execution.id) !== execution.status)
    if (page.length === POLL_LIMIT && fresh.length === POLL_LIMIT) {
      process.stderr.write(`(more than ${POLL_LIMIT} executions since the last look: some were not shown)\n`)
    }
    names = await view.channelNames(fresh, names)
    for (const execution of fresh) show(execution)
  }
  return 0
}

interface ExecutionView {
  /** How many of the latest to show first. */
  readonly count: number
  /** The newest executions the filters match, oldest first. */
  latest(): Promise<Execution[]>
  /** Channel codes by id for these executions (`known` kept; the channels read again when one is missing). */
  channelNames(executions: readonly Execution[], known?: Map<string, string>): Promise<Map<string, string>>
}

/** The filters of list and tail, checked before anything is asked of the server. */
async function executionView({ values, name, api }: Invocation): Promise<ExecutionView> {
  const count = whole('--lines', text(values, 'lines') ?? '10', 0, POLL_LIMIT, name)
  const filter = await filterOf(values, name, api)
  const query = new URLSearchParams({ order: '-started_at', mask: MASK, limit: String(POLL_LIMIT) })
  if (Object.keys(filter).length > 0) query.set('filter', JSON.stringify(filter))
  return {
    count,
    latest: async () => ((await api().call('GET', `${EXECUTIONS}?${query}`)) as Execution[]).reverse(),
    channelNames: (executions, known) => channelNamesOf(api(), executions, known),
  }
}

async function filterOf(values: Values, command: string, api: () => ApiClient): Promise<Record<string, string>> {
  const filter: Record<string, string> = {}
  const status = text(values, 'status')
  if (status !== undefined) filter.status = choice('--status', status, STATUSES, command)
  const trigger = text(values, 'trigger')
  if (trigger !== undefined) filter.trigger = choice('--trigger', trigger, TRIGGERS, command)
  const script = text(values, 'script')
  if (script !== undefined) filter.script_code = script
  const channel = text(values, 'channel')
  if (channel !== undefined) filter.channel_id = String((await api().byKey(CHANNELS, 'channel', 'code', channel)).id)
  return filter
}

async function channelNamesOf(
  api: ApiClient,
  executions: readonly Execution[],
  known = new Map<string, string>(),
): Promise<Map<string, string>> {
  const missing = executions.some((execution) => typeof execution.channel_id === 'string' && !known.has(execution.channel_id))
  if (!missing) return known
  const all = await api.list(CHANNELS, { mask: 'id,code' })
  return new Map(all.map((channel) => [String(channel.id), String(channel.code)]))
}

function idOf({ args, name }: Invocation): string {
  const id = args[0] as string
  if (!UUID.test(id)) throw usageError(`${id}: not an execution id (a UUID, as list and tail show)`, name)
  return id
}

/** An execution's record; one that is not written yet (batches go out a few ms after a run) is waited for. */
async function recorded(api: ApiClient, id: string): Promise<Execution> {
  const until = performance.now() + RECORD_WAIT_MS
  for (;;) {
    const reply = await api.send('GET', `${EXECUTIONS}/${id}`)
    if (reply.status === 200) return reply.body as Execution
    if (reply.status !== 404 || performance.now() > until) throw new CliError(`GET ${EXECUTIONS}/${id}: ${describeError(reply)}`)
    await sleep(100)
  }
}

function channelOf(execution: Execution, names: ReadonlyMap<string, string>): string {
  const id = execution.channel_id
  if (typeof id !== 'string') return '-'
  return names.get(id) ?? '(deleted)'
}

function durationOf(execution: Execution): string {
  return typeof execution.duration_ms === 'number' ? `${execution.duration_ms.toFixed(1)} ms` : '-'
}

function line(execution: Execution, names: ReadonlyMap<string, string>): string {
  const error = (execution.error as { message?: string } | null)?.message
  return [
    execution.started_at,
    execution.status.padEnd(7),
    String(execution.trigger).padEnd(9),
    channelOf(execution, names),
    String(execution.script_code),
    durationOf(execution).padStart(10),
    execution.id,
    ...(error === undefined ? [] : [error]),
  ].join('  ')
}

/** The text view of one execution. */
function describe(execution: Execution, names: ReadonlyMap<string, string>): string {
  const error = execution.error as { message: string; line?: number; column?: number } | null
  const rows: [string, string][] = [
    ['status', `${execution.status} (${durationOf(execution)})`],
    ['trigger', String(execution.trigger)],
    ['channel', channelOf(execution, names)],
    ['script', String(execution.script_code)],
    ['started', execution.started_at],
  ]
  if (typeof execution.request_id === 'string') rows.push(['request', execution.request_id])
  if (typeof execution.replay_of === 'string') rows.push(['replay of', execution.replay_of])
  if (error) {
    const where =
      error.line === undefined ? '' : ` (line ${error.line}${error.column === undefined ? '' : `, column ${error.column}`})`
    rows.push(['error', `${error.message}${where}`])
  }
  rows.push(['input', preview(execution.input)], ['output', preview(execution.output)])
  const logs = (execution.logs as { ms: number; level: string; text: string }[] | undefined) ?? []
  const lines = [`execution ${execution.id}`, ...rows.map(([label, value]) => `${label.padEnd(10)}${value}`)]
  if (logs.length > 0) {
    lines.push('log')
    for (const log of logs) lines.push(`  ${`+${log.ms.toFixed(1)} ms`.padStart(11)}  ${log.level.padEnd(5)}  ${log.text}`)
  }
  return lines.join('\n')
}

function preview(value: unknown): string {
  const json = JSON.stringify(value) ?? 'null'
  return json.length <= PREVIEW_CHARS
    ? json
    : `${json.slice(0, PREVIEW_CHARS)}… (${json.length} characters; --output json shows all)`
}
