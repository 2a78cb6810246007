import { choice, type Group, type Invocation, runGroup, text, usageError, whole } from './command.ts'
import { emit, emitList, table } from './output.ts'

const DELIVERIES = '/rest/v1/service/deliveries'
const CHANNELS = '/rest/v1/service/integration_points'
const STATUSES = ['pending', 'succeeded', 'failed', 'cancelled'] as const
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const MASK = 'id,channel_id,event_type,status,attempts,next_attempt_at,created_at'

type Delivery = Record<string, unknown> & {
  id: string
  status: string
  attempts: { status_code: number | null; error: string | null }[]
}

const DELIVERIES_GROUP: Group = {
  name: 'deliveries',
  intro: "Events delivered to channels' urls: signed, durable, retried (docs/deliveries.md).",
  commands: {
    list: {
      summary: 'the latest deliveries, with their status and last attempt',
      details: `One line each, newest first:
  <created_at> <status> <channel> <event type> <attempts> <last answer> <delivery id>

  -n, --lines <n>           how many (default 20, at most 1000)
  --channel <code>          only this channel's
  --status <status>         only these: ${STATUSES.join(', ')} (failed: the dead letters)

With --output json, an array of them.`,
      options: { lines: { type: 'string', short: 'n' }, channel: { type: 'string' }, status: { type: 'string' } },
      async run(invocation) {
        const { values, name } = invocation
        const count = whole('--lines', text(values, 'lines') ?? '20', 1, 1000, name)
        const filter = await filterOf(invocation)
        const query = new URLSearchParams({ mask: MASK, limit: String(count) })
        if (Object.keys(filter).length > 0) query.set('filter', JSON.stringify(filter))
        const api = invocation.api()
        const found = (await api.call('GET', `${DELIVERIES}?${query}`)) as Delivery[]
        const channels = found.length === 0 ? [] : await api.list(CHANNELS, { mask: 'id,code' })
        const names = new Map(channels.map((channel) => [String(channel.id), String(channel.code)]))
        emitList(invocation.output, found, () =>
          table(
            ['created', 'status', 'channel', 'event', 'attempts', 'last answer', 'id'],
            found.map((delivery) => {
              const last = delivery.attempts.at(-1)
              return [
                String(delivery.created_at),
                delivery.status,
                names.get(String(delivery.channel_id)) ?? '(deleted)',
                typeof delivery.event_type === 'string' ? delivery.event_type : '-',
                String(delivery.attempts.length),
                last === undefined ? '-' : last.status_code !== null ? String(last.status_code) : (last.error ?? '-'),
                delivery.id,
              ]
            }),
            'no deliveries',
          ),
        )
        return 0
      },
    },
    retry: {
      args: ['[<id>]'],
      summary: 'make a failed or pending delivery due now; without an id, every one --status/--channel match',
      details: `retry <id> retries one delivery (a succeeded or cancelled one is refused: exit 1).
retry --status failed [--channel <code>] retries every failed (or pending) one that matches, at most
1000 a call, and prints how many.

  --channel <code>          only this channel's
  --status <status>         failed or pending`,
      options: { channel: { type: 'string' }, status: { type: 'string' } },
      async run(invocation) {
        const { args, name } = invocation
        const api = invocation.api()
        const id = args[0]
        if (id !== undefined) {
          if (!UUID.test(id)) throw usageError(`${id}: not a delivery id (a UUID, as list shows)`, name)
          const delivery = (await api.call('POST', `${DELIVERIES}/${id}/retry`)) as Delivery
          emit(invocation.output, delivery, () => `delivery ${delivery.id} is due now (${delivery.status})`)
          return 0
        }
        const filter = await filterOf(invocation)
        if (filter.status === undefined) throw usageError('give a delivery id, or --status failed (or pending)', name)
        if (filter.status !== 'failed' && filter.status !== 'pending') {
          throw usageError(`--status ${filter.status}: only failed and pending deliveries can be retried`, name)
        }
        const answer = (await api.call('POST', `${DELIVERIES}/retry`, { filter })) as { retried: number }
        emit(invocation.output, answer, () => `${answer.retried} ${answer.retried === 1 ? 'delivery' : 'deliveries'} due now`)
        return 0
      },
    },
  },
}

/** `switchboard deliveries …` */
export function deliveries(args: readonly string[]): Promise<number> {
  return runGroup(DELIVERIES_GROUP, args)
}

async function filterOf({ values, name, api }: Invocation): Promise<Record<string, string>> {
  const filter: Record<string, string> = {}
  const status = text(values, 'status')
  if (status !== undefined) filter.status = choice('--status', status, STATUSES, name)
  const channel = text(values, 'channel')
  if (channel !== undefined) filter.channel_id = String((await api().byKey(CHANNELS, 'channel', 'code', channel)).id)
  return filter
}
