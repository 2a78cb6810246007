import type { ExecutionError, ExecutionStatus, LogLine } from '../api/types.ts'
import { Link } from '../app/link.tsx'
import { JsonView } from './json-view.tsx'
import { StatusBadge } from './status-badge.tsx'

/** The outcome of one execution: status, error with its line, variables or output, the log. */
export function RunResult({
  id,
  status,
  durationMs,
  error,
  output,
  logs,
  outputLabel = 'Variables',
}: {
  id: string
  status: ExecutionStatus
  durationMs: number
  error: ExecutionError | null
  output: unknown
  logs: readonly LogLine[]
  outputLabel?: string
}) {
  return (
    <div class="run-result">
      <p>
        <StatusBadge status={status} /> in {durationMs} ms · <Link href={`/executions/${id}`}>execution {id.slice(0, 8)}</Link>
      </p>
      {error && (
        <p class="note error" role="alert">
          {error.line !== undefined ? `Line ${error.line}${error.column !== undefined ? `, column ${error.column}` : ''}: ` : ''}
          {error.message}
        </p>
      )}
      {status === 'ok' && (
        <>
          <h3>{outputLabel}</h3>
          <JsonView value={output} label={outputLabel} />
        </>
      )}
      <h3>Log</h3>
      {logs.length === 0 ? (
        <p class="sub">No log lines.</p>
      ) : (
        <ol class="log" aria-label="Log">
          {logs.map((line, index) => (
            <li key={index} class={`level-${line.level}`}>
              <span class="ms">{line.ms.toFixed(1)} ms</span> <span class="level">{line.level}</span>{' '}
              <span class="text">{line.text}</span>
            </li>
          ))}
        </ol>
      )}
    </div>
  )
}
