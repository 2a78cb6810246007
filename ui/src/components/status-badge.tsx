import type { DeliveryStatus, Execution, ExecutionStatus } from '../api/types.ts'

export function StatusBadge({ status }: { status: ExecutionStatus | DeliveryStatus }) {
  return <span class={`badge status-${status}`}>{status}</span>
}

/**
 * An execution's state in words: an async job that failed with runs left is "retrying (attempt
 * n of m, next at …)", one whose runs are used up "failed after m attempts".
 */
export function ExecutionState({
  execution,
}: {
  execution: Pick<Execution, 'status' | 'attempt' | 'max_attempts' | 'next_attempt_at'>
}) {
  const { status, attempt, max_attempts: max, next_attempt_at: next } = execution
  if (status === 'retrying' && attempt !== undefined && max !== undefined) {
    return (
      <span class="badge status-retrying" title={next ? new Date(next).toLocaleString() : undefined}>
        retrying (attempt {attempt} of {max}
        {next && (
          <>
            , next at <time dateTime={next}>{new Date(next).toLocaleTimeString()}</time>
          </>
        )}
        )
      </span>
    )
  }
  if ((status === 'error' || status === 'timeout') && max !== undefined && max > 1 && attempt === max) {
    return <span class="badge status-error">failed after {max} attempts</span>
  }
  return <StatusBadge status={status} />
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
