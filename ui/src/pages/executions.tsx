import { useState } from 'preact/hooks'
import { channelNames } from '../api/channel-names.ts'
import { type Listed, list, PATHS, request } from '../api/client.ts'
import type { Execution } from '../api/types.ts'
import { Link } from '../app/link.tsx'
import { useResource } from '../app/use-resource.ts'
import { Confirm } from '../components/confirm.tsx'
import { Select, TextField } from '../components/field.tsx'
import { FilterChip, Pager, urlFilters } from '../components/pager.tsx'
import { Empty, ErrorNote, Loaded } from '../components/states.tsx'
import { Ago, ExecutionState } from '../components/status-badge.tsx'

const PAGE = 50
const WINDOWS = [
  { value: '', label: 'Any time' },
  { value: '900', label: 'Last 15 minutes' },
  { value: '3600', label: 'Last hour' },
  { value: '86400', label: 'Last 24 hours' },
  { value: '604800', label: 'Last 7 days' },
  { value: 'custom', label: 'Custom range…' },
]
const STATUSES = ['', 'ok', 'error', 'timeout', 'retrying', 'aborted', 'queued', 'running']
const TRIGGERS = ['', 'http', 'ws', 'svcscript', 'send', 'event', 'replay']

/** A `datetime-local` value (the browser's local time) as RFC 3339, or undefined. */
function rfc3339(local: string): string | undefined {
  if (local === '') return undefined
  const at = new Date(local)
  return Number.isNaN(at.getTime()) ? undefined : at.toISOString()
}

/**
 * The filters live in the URL, so a filtered list can be linked to and survives a reload: the
 * channel, status, trigger, script, a text search (`q`, the webhook body and headers), and the
 * time as a preset or a custom range (`from`, `to`). "Failed" is the view of what finally
 * failed, and what a filter finds can be replayed at once.
 */
export function Executions({ query }: { query: URLSearchParams }) {
  const channel = query.get('channel') ?? ''
  const status = query.get('status') ?? ''
  const trigger = query.get('trigger') ?? ''
  const script = query.get('script') ?? ''
  const window = query.get('window') ?? ''
  const from = query.get('from') ?? ''
  const to = query.get('to') ?? ''
  const q = query.get('q') ?? ''
  const offset = Number(query.get('offset') ?? 0)
  const [now] = useState(() => Date.now())
  const [typed, setTyped] = useState(q)
  const [replaying, setReplaying] = useState(false)
  const [asking, setAsking] = useState<number | null>(null)
  const [replayed, setReplayed] = useState<{ replayed: number; skipped: unknown[] } | null>(null)
  const [problem, setProblem] = useState<unknown>(null)
  const names = useResource(channelNames, [])

  const filter: Record<string, string> = {}
  if (channel) filter.channel_id = channel
  if (status) filter.status = status
  if (trigger) filter.trigger = trigger
  if (script) filter.script_code = script
  const since = window === 'custom' ? rfc3339(from) : window ? new Date(now - Number(window) * 1000).toISOString() : undefined
  const until = window === 'custom' ? rfc3339(to) : undefined
  const executions = useResource<Listed<Execution>>(
    () =>
      list<Execution>(PATHS.executions, {
        limit: PAGE,
        offset,
        mask: 'id,channel_id,script_code,trigger,status,started_at,duration_ms,error.message,attempt,max_attempts,next_attempt_at',
        ...(Object.keys(filter).length > 0 && { filter: JSON.stringify(filter) }),
        ...(q && { q }),
        ...(since && { since }),
        ...(until && { until }),
      }),
    [channel, status, trigger, script, window, from, to, q, offset],
  )

  const filters = urlFilters('/executions', query)
  const setFilter = filters.set
  const channelOptions = [
    { value: '', label: 'All channels' },
    ...(names.state === 'ready' ? [...names.data].map(([id, code]) => ({ value: id, label: code })) : []),
  ]
  const failedView = status === 'error'

  const replayAll = async () => {
    setAsking(null)
    setReplaying(true)
    setProblem(null)
    try {
      setReplayed(
        await request('POST', `${PATHS.executions}/replay`, {
          filter,
          ...(q && { q }),
          ...(since && { since }),
          ...(until && { until }),
        }),
      )
      executions.reload()
    } catch (error) {
      setProblem(error)
    } finally {
      setReplaying(false)
    }
  }

  return (
    <section>
      <div class="page-head">
        <h1>{failedView ? 'Failed executions' : 'Executions'}</h1>
        <div class="actions">
          {failedView ? (
            <Link href="/executions" class="button">
              All executions
            </Link>
          ) : (
            <Link href="/executions?status=error" class="button">
              Failed
            </Link>
          )}
          <button type="button" onClick={executions.reload}>
            Refresh
          </button>
        </div>
      </div>
      <form
        class="search"
        aria-label="Search executions"
        onSubmit={(event) => {
          event.preventDefault()
          setFilter('q', typed.trim())
        }}
      >
        <TextField
          label="Search body and headers"
          type="search"
          value={typed}
          onInput={setTyped}
          placeholder="order 7"
          hint="words, each matching the start of a word"
        />
        <button type="submit">Search</button>
      </form>
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
        {window === 'custom' && (
          <>
            <TextField label="From" type="datetime-local" value={from} onInput={(value) => setFilter('from', value)} />
            <TextField label="To" type="datetime-local" value={to} onInput={(value) => setFilter('to', value)} />
          </>
        )}
        {script && <FilterChip label="script" value={script} onClear={() => setFilter('script', '')} />}
        {q && (
          <FilterChip
            label="search"
            value={q}
            onClear={() => {
              setTyped('')
              setFilter('q', '')
            }}
          />
        )}
      </div>
      {problem !== null && <ErrorNote error={problem} />}
      <Confirm
        open={asking !== null}
        title="Replay them all?"
        confirm={`Replay ${asking ?? 0}`}
        onConfirm={replayAll}
        onCancel={() => setAsking(null)}
      >
        <p>Each of the {asking} executions this filter finds runs again, oldest first, through its channel's current script.</p>
      </Confirm>
      {replayed && (
        <p class="note" role="status">
          Replayed {replayed.replayed} execution{replayed.replayed === 1 ? '' : 's'}
          {replayed.skipped.length > 0 && `; ${replayed.skipped.length} could not run again`}.
        </p>
      )}
      <Loaded resource={executions}>
        {({ items, total }) =>
          items.length === 0 ? (
            <Empty>{failedView ? 'Nothing failed.' : 'No executions match. Send a webhook from the tester to make one.'}</Empty>
          ) : (
            <div class="table-wrap">
              <div class="bulk">
                <button type="button" onClick={() => setAsking(total)} disabled={replaying || total > 1000}>
                  {replaying ? 'Replaying…' : `Replay all ${total}`}
                </button>
                {total > 1000 && <span class="sub">At most 1000 at once: narrow the filter.</span>}
              </div>
              <table class="stack">
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
                      <td data-label="Started">
                        <Link href={`/executions/${execution.id}`}>
                          <Ago at={execution.started_at} />
                        </Link>
                      </td>
                      <td data-label="Status">
                        <ExecutionState execution={execution} />
                        {execution.error?.message && <div class="sub clip">{execution.error.message}</div>}
                      </td>
                      <td data-label="Trigger">{execution.trigger}</td>
                      <td data-label="Script" class="mono small">
                        {execution.script_code}
                      </td>
                      <td data-label="Channel">
                        {execution.channel_id
                          ? names.state === 'ready'
                            ? (names.data.get(execution.channel_id) ?? '(deleted)')
                            : '…'
                          : '—'}
                      </td>
                      <td data-label="ms" class="num">
                        {execution.duration_ms}
                      </td>
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
