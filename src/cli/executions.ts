import { setTimeout as sleep } from 'node:timers/promises'
import { CLIENT_HELP, clientOf, parseCommand, positionals, print, usageError } from './options.ts'

const EXECUTIONS = '/rest/v1/service/executions'
const CHANNELS = '/rest/v1/service/integration_points'
/** The fields a line needs: the list stays small even with big inputs and outputs. */
const MASK = 'id,channel_id,script_code,trigger,status,started_at,duration_ms,error,request_id'
/** Executions read per poll (the newest). */
const POLL_LIMIT = 500
/** Ids remembered to print each execution once per status; the oldest are forgotten first. */
const REMEMBERED = 20_000

const EXECUTIONS_HELP = `Usage: switchboard executions tail [options]

Prints the latest executions, then follows new ones as they are recorded (polling
GET /rest/v1/service/executions?order=-started_at), one line each:
  <started_at> <status> <trigger> <script> <duration> <execution id> [<error>]
A queued async run is printed again when it ends. Ctrl-C (or SIGTERM) stops it (exit 0).

  -n, --lines <n>           how many of the latest to print first (default 10)
  --channel <code>          only this channel's executions
  --script <code>           only this script's
  --status <status>         only these: queued, ok, error, timeout, aborted
  --interval <ms>           how often to look (default 1000)
  --no-follow               print the latest and stop

With --json, prints one JSON object per line (the execution's fields above).

${CLIENT_HELP}`

const OPTIONS = {
  lines: { type: 'string', short: 'n' },
  channel: { type: 'string' },
  script: { type: 'string' },
  status: { type: 'string' },
  interval: { type: 'string' },
  'no-follow': { type: 'boolean' },
} as const

type Execution = Record<string, unknown> & { id: string; status: string; started_at: string }

/** `switchboard executions tail` */
export async function executions(args: readonly string[]): Promise<number> {
  const [sub, ...rest] = args
  if (sub === undefined) {
    // No command: the help, as a usage mistake (stderr, exit code 2).
    process.stderr.write(EXECUTIONS_HELP)
    return 2
  }
  if (sub === 'help' || sub === '--help' || sub === '-h') {
    print(EXECUTIONS_HELP)
    return 0
  }
  if (sub !== 'tail') throw usageError(`unknown executions command '${sub}'`, 'executions')
  const { values, positionals: given } = parseCommand(rest, OPTIONS, 'executions')
  if (values.help) {
    print(EXECUTIONS_HELP)
    return 0
  }
  positionals(given, [], 'executions')
  const count = whole('--lines', values.lines, 10, 0, POLL_LIMIT)
  const interval = whole('--interval', values.interval, 1000, 50, 3_600_000)
  const api = clientOf(values)
  const filter: Record<string, string> = {}
  if (values.channel !== undefined) filter.channel_id = String((await api.byCode(CHANNELS, 'channel', values.channel)).id)
  if (values.script !== undefined) filter.script_code = values.script
  if (values.status !== undefined) filter.status = values.status
  const query = new URLSearchParams({ order: '-started_at', mask: MASK, limit: String(POLL_LIMIT) })
  if (Object.keys(filter).length > 0) query.set('filter', JSON.stringify(filter))
  const latest = async () => ((await api.call('GET', `${EXECUTIONS}?${query}`)) as Execution[]).reverse()

  const seen = new Map<string, string>()
  const show = (execution: Execution) => {
    seen.delete(execution.id)
    seen.set(execution.id, execution.status)
    if (seen.size > REMEMBERED) seen.delete(seen.keys().next().value as string)
    print(values.json ? JSON.stringify(execution) : line(execution))
  }
  const first = await latest()
  for (const execution of first.slice(Math.max(0, first.length - count))) show(execution)
  for (const execution of first) if (!seen.has(execution.id)) seen.set(execution.id, execution.status)
  if (values['no-follow']) return 0

  const stop = new AbortController()
  process.once('SIGINT', () => stop.abort())
  process.once('SIGTERM', () => stop.abort())
  while (!stop.signal.aborted) {
    try {
      await sleep(interval, undefined, { signal: stop.signal })
    } catch {
      break
    }
    const page = await latest()
    const fresh = page.filter((execution) => seen.get(execution.id) !== execution.status)
    if (page.length === POLL_LIMIT && fresh.length === POLL_LIMIT) {
      process.stderr.write(`(more than ${POLL_LIMIT} executions since the last look: some were not shown)\n`)
    }
    for (const execution of fresh) show(execution)
  }
  return 0
}

function whole(flag: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!/^\d+$/.test(value) || n < min || n > max)
    throw usageError(`${flag} must be a whole number from ${min} to ${max}`, 'executions')
  return n
}

function line(execution: Execution): string {
  const duration = typeof execution.duration_ms === 'number' ? `${execution.duration_ms.toFixed(1)} ms` : '-'
  const error = (execution.error as { message?: string } | null)?.message
  return [
    execution.started_at,
    execution.status.padEnd(7),
    String(execution.trigger).padEnd(9),
    String(execution.script_code),
    duration.padStart(10),
    execution.id,
    ...(error === undefined ? [] : [error]),
  ].join('  ')
}
