import { useEffect, useState } from 'preact/hooks'
import { channelNames } from '../api/channel-names.ts'
import { list, PATHS, request } from '../api/client.ts'
import type { Execution } from '../api/types.ts'
import { Link } from '../app/link.tsx'
import { navigate } from '../app/router.ts'
import { useResource } from '../app/use-resource.ts'
import { CopyButton } from '../components/copy-button.tsx'
import { JsonView } from '../components/json-view.tsx'
import { ErrorNote, Loaded } from '../components/states.tsx'
import { ExecutionState } from '../components/status-badge.tsx'
import { SideBySide } from '../inspector/side-by-side.tsx'
import { curlOf, isNoisyHeader, type RecordedWebhook, webhookOf } from '../inspector/webhook-request.ts'

const TABS = ['Request', 'Response', 'Logs', 'Attempts', 'Compare'] as const
type Tab = (typeof TABS)[number]

/**
 * The inspector of one execution: the request as it came (body, headers, query), the response,
 * the log with each line's time, the attempts of an async job, and a side-by-side comparison
 * with its replay or its original. The tab is in the URL (`?tab=`), so a reload keeps it.
 */
export function ExecutionDetail({ id, query }: { id: string; query: URLSearchParams }) {
  const execution = useResource(() => request<Execution>('GET', `${PATHS.executions}/${id}`), [id])
  const names = useResource(channelNames, [])
  const [problem, setProblem] = useState<unknown>(null)
  const [busy, setBusy] = useState(false)
  // A job that has not settled is followed: queued, running, retrying until it is done or failed.
  const settled = execution.state !== 'ready' || !['queued', 'running', 'retrying'].includes(execution.data.status)
  useEffect(() => {
    if (settled) return
    const timer = setTimeout(execution.reload, 1000)
    return () => clearTimeout(timer)
  })
  const wanted = query.get('tab') ?? 'Request'
  const tab: Tab = (TABS as readonly string[]).includes(wanted) ? (wanted as Tab) : 'Request'

  const replay = async () => {
    setBusy(true)
    setProblem(null)
    try {
      const replayed = await request<Execution>('POST', `${PATHS.executions}/${id}/replay`)
      navigate(`/executions/${replayed.id}`)
    } catch (error) {
      setProblem(error)
    } finally {
      setBusy(false)
    }
  }

  return (
    <section>
      <p class="crumbs">
        <Link href="/executions">Executions</Link> /
      </p>
      <Loaded resource={execution}>
        {(found) => {
          const webhook = webhookOf(found.input)
          const channelCode = found.channel_id && names.state === 'ready' ? names.data.get(found.channel_id) : undefined
          return (
            <>
              <div class="page-head">
                <h1>
                  Execution <span class="mono">{found.id.slice(0, 8)}</span>
                </h1>
                <div class="actions">
                  {webhook && found.channel_id && (
                    <Link href={`/tester?channel=${found.channel_id}&from=${found.id}`} class="button">
                      Edit and resend
                    </Link>
                  )}
                  <button type="button" class="primary" onClick={replay} disabled={busy}>
                    {busy ? 'Replaying…' : 'Replay'}
                  </button>
                </div>
              </div>
              {problem !== null && <ErrorNote error={problem} />}
              <dl class="facts">
                <dt>Status</dt>
                <dd>
                  <ExecutionState execution={found} /> in {found.duration_ms} ms
                </dd>
                <dt>Script</dt>
                <dd class="mono">
                  {found.script_code}
                  {found.script_version !== undefined && ` (version ${found.script_version})`}
                </dd>
                <dt>Trigger</dt>
                <dd>{found.trigger}</dd>
                <dt>Started</dt>
                <dd>
                  <time dateTime={found.started_at}>{new Date(found.started_at).toLocaleString()}</time>
                </dd>
                <dt>Channel</dt>
                <dd>
                  {found.channel_id ? (
                    <Link href={`/channels/${found.channel_id}`}>{channelCode ?? found.channel_id.slice(0, 8)}</Link>
                  ) : (
                    '—'
                  )}
                </dd>
                {found.replay_of && (
                  <>
                    <dt>Replay of</dt>
                    <dd>
                      <Link href={`/executions/${found.replay_of}`}>{found.replay_of.slice(0, 8)}</Link>
                    </dd>
                  </>
                )}
                <dt>Id</dt>
                <dd class="mono small">{found.id}</dd>
              </dl>
              {found.error && (
                <p class="note error" role="alert">
                  {found.error.line !== undefined
                    ? `Line ${found.error.line}${found.error.column !== undefined ? `, column ${found.error.column}` : ''}: `
                    : ''}
                  {found.error.message}
                </p>
              )}
              <div class="tabs" role="tablist" aria-label="Execution">
                {TABS.map((name) => (
                  <button
                    key={name}
                    type="button"
                    role="tab"
                    aria-selected={tab === name}
                    class={tab === name ? 'tab current' : 'tab'}
                    onClick={() => navigate(`/executions/${id}?tab=${name}`, { replace: true })}
                  >
                    {name}
                    {name === 'Logs' && ` (${found.logs.length})`}
                    {name === 'Attempts' && found.attempts && ` (${found.attempts.length})`}
                  </button>
                ))}
              </div>
              <div role="tabpanel" aria-label={tab}>
                {tab === 'Request' &&
                  (webhook ? <RequestView webhook={webhook} /> : <JsonView value={found.input} label="Input" />)}
                {tab === 'Response' && <ResponseView execution={found} />}
                {tab === 'Logs' && <LogsView execution={found} />}
                {tab === 'Attempts' && <AttemptsView execution={found} />}
                {tab === 'Compare' && <CompareView execution={found} />}
              </div>
            </>
          )
        }}
      </Loaded>
    </section>
  )
}

function RequestView({ webhook }: { webhook: RecordedWebhook }) {
  const headers = Object.entries(webhook.headers)
  const useful = headers.filter(([name]) => !isNoisyHeader(name))
  const noisy = headers.filter(([name]) => isNoisyHeader(name))
  const query = Object.entries(webhook.query)
  const curl = curlOf(webhook, location.origin)
  return (
    <div class="inspector">
      <p class="request-line mono">
        {webhook.method} {webhook.url}
      </p>
      <h3>Body</h3>
      {webhook.body === null || webhook.body === undefined ? (
        <p class="sub">No body.</p>
      ) : webhook.body_encoding === 'base64' ? (
        <>
          <p class="sub">Binary body, shown as base64.</p>
          <JsonView value={webhook.body} label="Body" />
        </>
      ) : (
        <JsonView value={webhook.body} label="Body" />
      )}
      <h3>Headers</h3>
      <Pairs label="Headers" pairs={useful} />
      {noisy.length > 0 && (
        <details class="folded">
          <summary>
            {noisy.length} browser and transport header{noisy.length === 1 ? '' : 's'}
          </summary>
          <Pairs label="Browser and transport headers" pairs={noisy} />
        </details>
      )}
      <h3>Query</h3>
      {query.length === 0 ? <p class="sub">No query parameters.</p> : <Pairs label="Query" pairs={query} />}
      <h3>Sender</h3>
      <p class="mono small">
        {webhook.ip} · {webhook.protocol}
      </p>
      <h3>As curl</h3>
      <div class="snippet">
        <pre class="mono" title="curl command">
          {curl}
        </pre>
        <CopyButton text={curl} label="Copy as curl" />
      </div>
      <p class="sub">$TOKEN is the channel's token (records never keep it).</p>
    </div>
  )
}

/** Names and values (headers, query parameters) as a two-column table; repeated values joined. */
function Pairs({ label, pairs }: { label: string; pairs: readonly (readonly [string, unknown])[] }) {
  return (
    <table class="pairs" aria-label={label}>
      <tbody>
        {pairs.map(([name, value]) => (
          <tr key={name}>
            <th scope="row" class="mono">
              {name}
            </th>
            <td class="mono">{Array.isArray(value) ? value.join(', ') : String(value)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

function ResponseView({ execution }: { execution: Execution }) {
  const output = execution.output as { status?: number; headers?: Record<string, string>; result?: unknown } | null
  if (execution.status !== 'ok') return <p class="sub">No response: the execution ended {execution.status}.</p>
  return (
    <div class="inspector">
      {typeof output?.status === 'number' && (
        <p>
          Status <span class="mono">{output.status}</span>
        </p>
      )}
      <h3>Result</h3>
      <JsonView value={output?.result} label="Result" />
      <h3>Variables</h3>
      <JsonView value={output} label="Variables" />
    </div>
  )
}

function LogsView({ execution }: { execution: Execution }) {
  if (execution.logs.length === 0) return <p class="sub">No log lines.</p>
  return (
    <ol class="log" aria-label="Log">
      {execution.logs.map((line, index) => (
        <li key={index} class={`level-${line.level}`}>
          <span class="ms">+{line.ms} ms</span> <span class="level">{line.level}</span> <span class="text">{line.text}</span>
        </li>
      ))}
    </ol>
  )
}

function AttemptsView({ execution }: { execution: Execution }) {
  if (!execution.attempts || execution.attempts.length === 0) return <p class="sub">One run, no retries.</p>
  return (
    <div class="inspector">
      <p>
        <ExecutionState execution={execution} />
      </p>
      <ol class="attempts" aria-label="Attempts">
        {execution.attempts.map((attempt, index) => (
          <li key={attempt.at}>
            Attempt {index + 1}: <time dateTime={attempt.at}>{new Date(attempt.at).toLocaleString()}</time> — {attempt.status} in{' '}
            {attempt.duration_ms} ms
            {attempt.error && `: ${attempt.error.message}`}
          </li>
        ))}
      </ol>
    </div>
  )
}

/** The original of a replay, or the newest replay of an original. */
function CompareView({ execution }: { execution: Execution }) {
  const other = useResource(async () => {
    if (execution.replay_of) return request<Execution>('GET', `${PATHS.executions}/${execution.replay_of}`)
    const { items } = await list<Execution>(PATHS.executions, { filter: JSON.stringify({ replay_of: execution.id }), limit: 1 })
    return items[0] ?? null
  }, [execution.id])
  return (
    <Loaded resource={other}>
      {(found) => {
        if (!found) return <p class="sub">Not replayed yet: replay it to compare the two runs.</p>
        const original = execution.replay_of ? found : execution
        const replay = execution.replay_of ? execution : found
        const labels = [`Original ${original.id.slice(0, 8)}`, `Replay ${replay.id.slice(0, 8)}`] as const
        const shape = (run: Execution) => ({ status: run.status, error: run.error?.message ?? null, output: run.output })
        return (
          <div class="inspector">
            <p>
              <Link href={`/executions/${found.id}?tab=Compare`}>Open the {execution.replay_of ? 'original' : 'replay'}</Link>
            </p>
            <h3>Outcome</h3>
            <SideBySide
              left={shape(original)}
              right={shape(replay)}
              leftLabel={labels[0]}
              rightLabel={labels[1]}
              label="Outcome diff"
            />
            <h3>Input</h3>
            <SideBySide
              left={original.input}
              right={replay.input}
              leftLabel={labels[0]}
              rightLabel={labels[1]}
              label="Input diff"
            />
          </div>
        )
      }}
    </Loaded>
  )
}
