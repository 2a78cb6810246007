import { useState } from 'preact/hooks'
import { channelNames } from '../api/channel-names.ts'
import { type Listed, list, PATHS } from '../api/client.ts'
import type { Execution } from '../api/types.ts'
import { Link } from '../app/link.tsx'
import { useResource } from '../app/use-resource.ts'
import { Select } from '../components/field.tsx'
import { FilterChip, Pager, urlFilters } from '../components/pager.tsx'
import { Empty, Loaded } from '../components/states.tsx'
import { Ago, StatusBadge } from '../components/status-badge.tsx'

const PAGE = 50
const WINDOWS = [
  { value: '', label: 'Any time' },
  { value: '900', label: 'Last 15 minutes' },
  { value: '3600', label: 'Last hour' },
  { value: '86400', label: 'Last 24 hours' },
  { value: '604800', label: 'Last 7 days' },
]
const STATUSES = ['', 'ok', 'error', 'timeout', 'aborted', 'queued', 'running']
const TRIGGERS = ['', 'http', 'ws', 'svcscript', 'send', 'event', 'replay']

/** The filters live in the URL, so a filtered list can be linked to and survives a reload. */
export function Executions({ query }: { query: URLSearchParams }) {
  const channel = query.get('channel') ?? ''
  const status = query.get('status') ?? ''
  const trigger = query.get('trigger') ?? ''
  const script = query.get('script') ?? ''
  const window = query.get('window') ?? ''
  const offset = Number(query.get('offset') ?? 0)
  const [now] = useState(() => Date.now())
  const names = useResource(channelNames, [])
  const executions = useResource<Listed<Execution>>(() => {
    const filter: Record<string, string> = {}
    if (channel) filter.channel_id = channel
    if (status) filter.status = status
    if (trigger) filter.trigger = trigger
    if (script) filter.script_code = script
    return list<Execution>(PATHS.executions, {
      limit: PAGE,
      offset,
      mask: 'id,channel_id,script_code,trigger,status,started_at,duration_ms,error.message',
      ...(Object.keys(filter).length > 0 && { filter: JSON.stringify(filter) }),
      ...(window && { since: new Date(now - Number(window) * 1000).toISOString() }),
    })
  }, [channel, status, trigger, script, window, offset])

  const filters = urlFilters('/executions', query)
  const setFilter = filters.set
  const channelOptions = [
    { value: '', label: 'All channels' },
    ...(names.state === 'ready' ? [...names.data].map(([id, code]) => ({ value: id, label: code })) : []),
  ]

  return (
    <section>
      <div class="page-head">
        <h1>Executions</h1>
        <button type="button" onClick={executions.reload}>
          Refresh
        </button>
      </div>
      <div class="filters">
        <Select label="Channel" value={channel} onChange={(value) => setFilter('channel', value)} options={channelOptions} />
        <Select
          label="Status"
          value={status}
          onChange={(value) => setFilter('status', value)}
          options={STATUSES.map((value) => ({ value, label: value || 'Any status' }))}
        />
        <Select
          label="Trigger"
          value={trigger}
          onChange={(value) => setFilter('trigger', value)}
          options={TRIGGERS.map((value) => ({ value, label: value || 'Any trigger' }))}
        />
        <Select label="Time" value={window} onChange={(value) => setFilter('window', value)} options={WINDOWS} />
        {script && <FilterChip label="script" value={script} onClear={() => setFilter('script', '')} />}
      </div>
      <Loaded resource={executions}>
        {({ items, total }) =>
          items.length === 0 ? (
            <Empty>No executions match. Send a webhook from the tester to make one.</Empty>
          ) : (
            <div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Started</th>
                    <th scope="col">Status</th>
                    <th scope="col">Trigger</th>
                    <th scope="col">Script</th>
                    <th scope="col">Channel</th>
                    <th scope="col" class="num">
                      ms
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((execution) => (
                    <tr key={execution.id}>
                      <td>
                        <Link href={`/executions/${execution.id}`}>
                          <Ago at={execution.started_at} />
                        </Link>
                      </td>
                      <td>
                        <StatusBadge status={execution.status} />
                        {execution.error?.message && <div class="sub clip">{execution.error.message}</div>}
                      </td>
                      <td>{execution.trigger}</td>
                      <td class="mono small">{execution.script_code}</td>
                      <td>
                        {execution.channel_id
                          ? names.state === 'ready'
                            ? (names.data.get(execution.channel_id) ?? '(deleted)')
                            : '…'
                          : '—'}
                      </td>
                      <td class="num">{execution.duration_ms}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <Pager offset={offset} shown={items.length} total={total} size={PAGE} onPage={filters.page} />
            </div>
          )
        }
      </Loaded>
    </section>
  )
}
