import { list, PATHS } from '../api/client.ts'
import type { DeliveryStatus } from '../api/types.ts'
import { Link } from '../app/link.tsx'
import { useResource } from '../app/use-resource.ts'

const STATUSES: readonly DeliveryStatus[] = ['pending', 'succeeded', 'failed', 'cancelled']

/** A channel's deliveries by status (the collection's X-Total-Count, nothing listed), each linked to its list. */
export function DeliveryCounts({ channelId }: { channelId: string }) {
  const counts = useResource(
    () =>
      Promise.all(
        STATUSES.map(async (status) => {
          const { total } = await list(PATHS.deliveries, {
            limit: 0,
            filter: JSON.stringify({ channel_id: channelId, status }),
          })
          return [status, total] as const
        }),
      ),
    [channelId],
  )
  return (
    <section class="panel" aria-labelledby="deliveries-title">
      <h2 id="deliveries-title">Deliveries</h2>
      {counts.state === 'ready' ? (
        <ul class="counts">
          {counts.data.map(([status, total]) => (
            <li key={status}>
              <Link href={`/deliveries?channel=${channelId}&status=${status}`}>
                <span class={`badge status-${status}`}>{status}</span> {total}
              </Link>
            </li>
          ))}
        </ul>
      ) : counts.state === 'error' ? (
        <p class="note">Delivery counts are not available to this key.</p>
      ) : (
        <p class="note">…</p>
      )}
    </section>
  )
}
