import { useState } from 'preact/hooks'
import { channelNames } from '../api/channel-names.ts'
import { type Listed, list, PATHS, plainWords, request } from '../api/client.ts'
import type { Delivery } from '../api/types.ts'
import { useResource } from '../app/use-resource.ts'
import { Select } from '../components/field.tsx'
import { Pager, urlFilters } from '../components/pager.tsx'
import { Empty, Loaded } from '../components/states.tsx'
import { Ago, StatusBadge } from '../components/status-badge.tsx'

const PAGE = 50
const STATUSES = [
  { value: '', label: 'Any status' },
  { value: 'pending', label: 'pending' },
  { value: 'succeeded', label: 'succeeded' },
  { value: 'failed', label: 'failed (dead letters)' },
  { value: 'cancelled', label: 'cancelled' },
]

/**
 * Outbound deliveries (docs/deliveries.md): filtered by channel and status in the URL; each row
 * opens its attempts. "failed" is the dead-letter list, retried one by one or all at once.
 */
export function Deliveries({ query }: { query: URLSearchParams }) {
  const channel = query.get('channel') ?? ''
  const status = query.get('status') ?? ''
  const offset = Number(query.get('offset') ?? 0)
  const names = useResource(channelNames, [])
  const [note, setNote] = useState<string | null>(null)
  const [problem, setProblem] = useState<unknown>(null)
  const filter: Record<string, string> = {}
  if (channel) filter.channel_id = channel
  if (status) filter.status = status
  const deliveries = useResource<Listed<Delivery>>(
    () =>
      list<Delivery>(PATHS.deliveries, {
        limit: PAGE,
        offset,
        ...(Object.keys(filter).length > 0 && { filter: JSON.stringify(filter) }),
      }),
    [channel, status, offset],
  )
  const filters = urlFilters('/deliveries', query)
  const channelOptions = [
    { value: '', label: 'All channels' },
    ...(names.state === 'ready' ? [...names.data].map(([id, code]) => ({ value: id, label: code })) : []),
  ]
  const act = async (what: () => Promise<string>) => {
    setProblem(null)
    setNote(null)
    try {
      setNote(await what())
      deliveries.reload()
    } catch (error) {
      setProblem(error)
    }
  }
  const retryAll = () =>
    act(async () => {
      const { retried } = await request<{ retried: number }>('POST', `${PATHS.deliveries}/retry`, {
        filter: { ...filter, status: 'failed' },
      })
      return `${retried} ${retried === 1 ? 'delivery' : 'deliveries'} due now.`
    })

  return (
    <section>
      <div class="page-head">
        <h1>Deliveries</h1>
        <div class="actions">
          {status === 'failed' && (
            <button type="button" onClick={retryAll}>
              Retry all failed
            </button>
          )}
          <button type="button" onClick={deliveries.reload}>
            Refresh
          </button>
        </div>
      </div>
      <div class="filters">
        <Select label="Channel" value={channel} onChange={(value) => filters.set('channel', value)} options={channelOptions} />
        <Select label="Status" value={status} onChange={(value) => filters.set('status', value)} options={STATUSES} />
      </div>
      {note && (
        <p class="note ok" role="status">
          {note}
        </p>
      )}
      {problem !== null && <p class="note error">{plainWords(problem)}</p>}
      <Loaded resource={deliveries}>
        {({ items, total }) =>
          items.length === 0 ? (
            <Empty>
              {status === 'failed'
                ? 'No failed deliveries: nothing is waiting in the dead letters.'
                : 'No deliveries match. Scripts make them with channels.deliver; see docs/deliveries.md.'}
            </Empty>
          ) : (
            <div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Created</th>
                    <th scope="col">Status</th>
                    <th scope="col">Channel</th>
                    <th scope="col">Event</th>
                    <th scope="col">Attempts</th>
                    <th scope="col">Action</th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((delivery) => (
                    <DeliveryRow
                      key={delivery.id}
                      delivery={delivery}
                      channel={names.state === 'ready' ? (names.data.get(delivery.channel_id) ?? '(deleted)') : '…'}
                      onRetry={() =>
                        act(async () => {
                          await request('POST', `${PATHS.deliveries}/${delivery.id}/retry`)
                          return `Delivery ${delivery.id} is due now.`
                        })
                      }
                      onCancel={() =>
                        act(async () => {
                          await request('POST', `${PATHS.deliveries}/${delivery.id}/cancel`)
                          return `Delivery ${delivery.id} is cancelled.`
                        })
                      }
                    />
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

function DeliveryRow({
  delivery,
  channel,
  onRetry,
  onCancel,
}: {
  delivery: Delivery
  channel: string
  onRetry: () => void
  onCancel: () => void
}) {
  const last = delivery.attempts.at(-1)
  return (
    <tr>
      <td>
        <Ago at={delivery.created_at} />
      </td>
      <td>
        <StatusBadge status={delivery.status} />
        {delivery.status === 'pending' && delivery.next_attempt_at && (
          <div class="sub">
            next <Ago at={delivery.next_attempt_at} />
          </div>
        )}
      </td>
      <td>{channel}</td>
      <td class="mono small">{delivery.event_type ?? '—'}</td>
      <td>
        {delivery.attempts.length === 0 ? (
          '—'
        ) : (
          <details>
            <summary>
              {delivery.attempts.length} · last {last?.status_code ?? 'no answer'}
            </summary>
            <ol class="attempts">
              {delivery.attempts.map((attempt) => (
                <li key={attempt.at}>
                  <Ago at={attempt.at} /> — {attempt.status_code ?? 'no answer'} in {attempt.duration_ms} ms
                  {attempt.error && <div class="sub clip">{attempt.error}</div>}
                  {attempt.response_excerpt && <pre class="mono small">{attempt.response_excerpt}</pre>}
                </li>
              ))}
            </ol>
          </details>
        )}
      </td>
      <td>
        {(delivery.status === 'failed' || delivery.status === 'pending') && (
          <button type="button" class="small" onClick={onRetry} aria-label={`Retry delivery ${delivery.id}`}>
            Retry
          </button>
        )}
        {delivery.status === 'pending' && (
          <button type="button" class="small danger" onClick={onCancel} aria-label={`Cancel delivery ${delivery.id}`}>
            Cancel
          </button>
        )}
      </td>
    </tr>
  )
}
