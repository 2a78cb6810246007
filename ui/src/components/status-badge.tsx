import type { DeliveryStatus, ExecutionStatus } from '../api/types.ts'

export function StatusBadge({ status }: { status: ExecutionStatus | DeliveryStatus }) {
  return <span class={`badge status-${status}`}>{status}</span>
}

/** "3 s ago", "2 min ago", or the date, for times in lists. */
export function Ago({ at }: { at: string }) {
  const seconds = Math.round((Date.now() - Date.parse(at)) / 1000)
  const text =
    seconds < 60
      ? `${Math.max(seconds, 0)} s ago`
      : seconds < 3600
        ? `${Math.round(seconds / 60)} min ago`
        : new Date(at).toLocaleString()
  return (
    <time dateTime={at} title={new Date(at).toLocaleString()}>
      {text}
    </time>
  )
}
