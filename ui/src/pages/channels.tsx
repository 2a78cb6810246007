import { useState } from 'preact/hooks'
import { type Listed, list, PATHS, request } from '../api/client.ts'
import type { Channel, LicenseRow } from '../api/types.ts'
import { Link } from '../app/link.tsx'
import { useResource } from '../app/use-resource.ts'
import { Select, TextField } from '../components/field.tsx'
import { Empty, Loaded } from '../components/states.tsx'
import { TrafficCell, trafficByChannel } from '../inspector/channel-traffic.tsx'

const SORTS = [
  { value: 'code', label: 'Code (A–Z)' },
  { value: '-code', label: 'Code (Z–A)' },
  { value: 'type,code', label: 'Type' },
  { value: '-ext.lwt', label: 'Recently changed' },
  { value: '-ext.ct', label: 'Newest' },
]

export function Channels() {
  const [type, setType] = useState('')
  const [order, setOrder] = useState('code')
  const [find, setFind] = useState('')
  const channels = useResource<Listed<Channel>>(
    () =>
      list<Channel>(PATHS.channels, {
        order,
        limit: 1000,
        mask: 'id,code,type,url,opts.issync,opts.title,recv_svcscriptcode,recv_svcscriptcode_ws,send_svcscriptcode',
        ...(type && { filter: JSON.stringify({ type }) }),
      }),
    [type, order],
  )
  const license = useResource(() => request<LicenseRow[]>('GET', PATHS.license), [])
  const traffic = useResource(() => trafficByChannel(), [])
  const needle = find.trim().toLowerCase()

  return (
    <section>
      <div class="page-head">
        <h1>Channels</h1>
        <Link href="/channels/new" class="button primary">
          New channel
        </Link>
      </div>
      <Loaded resource={license}>
        {(rows) =>
          rows.length > 0 && (
            <ul class="license" aria-label="Licence use per type">
              {rows.map((row) => (
                <li key={row.type}>
                  <strong>{row.type}</strong> {row.used} of {row.limit ?? '∞'}
                  {row.limit !== null && (
                    <meter
                      min={0}
                      max={row.limit}
                      value={row.used}
                      high={row.limit * 0.9}
                      aria-label={`${row.type} licence use`}
                    />
                  )}
                </li>
              ))}
            </ul>
          )
        }
      </Loaded>
      <div class="filters">
        <TextField label="Find" value={find} onInput={setFind} placeholder="code or title" />
        <Select
          label="Type"
          value={type}
          onChange={setType}
          options={[{ value: '', label: 'All types' }, 'public', 'eventing']}
        />
        <Select label="Sort" value={order} onChange={setOrder} options={SORTS} />
      </div>
      <Loaded resource={channels}>
        {({ items, total }) => {
          const shown = needle
            ? items.filter((channel) => `${channel.code} ${channel.opts?.title ?? ''}`.toLowerCase().includes(needle))
            : items
          if (total === 0)
            return (
              <Empty>
                <p>No channels yet.</p>
                <Link href="/channels/new" class="button primary">
                  Create the first channel
                </Link>
              </Empty>
            )
          if (shown.length === 0) return <Empty>No channel matches “{find}”.</Empty>
          return (
            <div class="table-wrap">
              <table class="stack">
                <thead>
                  <tr>
                    <th scope="col">Code</th>
                    <th scope="col">Last hour</th>
                    <th scope="col">Type</th>
                    <th scope="col">Mode</th>
                    <th scope="col">Scripts</th>
                    <th scope="col">URL</th>
                  </tr>
                </thead>
                <tbody>
                  {shown.map((channel) => (
                    <tr key={channel.id}>
                      <td>
                        <Link href={`/channels/${channel.id}`}>{channel.code}</Link>
                        {channel.opts?.title && <div class="sub">{channel.opts.title}</div>}
                      </td>
                      <td data-label="Last hour">
                        {traffic.state === 'ready' ? (
                          <TrafficCell
                            traffic={traffic.data.get(channel.id)}
                            label={`Traffic of ${channel.code} in the last hour`}
                          />
                        ) : (
                          '…'
                        )}
                      </td>
                      <td data-label="Type">{channel.type}</td>
                      <td data-label="Mode">{channel.opts?.issync ? 'sync' : 'async'}</td>
                      <td data-label="Scripts" class="mono small">
                        {[channel.recv_svcscriptcode, channel.recv_svcscriptcode_ws, channel.send_svcscriptcode]
                          .filter(Boolean)
                          .join(', ') || '—'}
                      </td>
                      <td data-label="URL" class="mono small">
                        {channel.url || '—'}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <p class="sub">
                {shown.length} of {total} channel{total === 1 ? '' : 's'}
              </p>
            </div>
          )
        }}
      </Loaded>
    </section>
  )
}
